import { run } from './run.js';

/**
 * What the `pgm` binary does: run with `process.argv`, set the exit code,
 * and make sure the process ends even if a connection was left open.
 */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  // `pgm status | head -1`: the reader went away; that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
    throw err;
  });
  const code = await run(argv);
  process.exitCode = code;
  // Everything is closed by now; this only guards against a stray handle keeping the process alive.
  setTimeout(() => process.exit(code), 5000).unref();
}
