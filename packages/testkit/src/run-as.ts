import { type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TestkitError } from './errors.js';

/** The OS user PostgreSQL runs as: ourselves, or `postgres` when we are root (initdb/postgres refuse root). */
export interface ServerUser {
  uid: number;
  gid: number;
  /** True when we are root and drop privileges to run the servers. */
  dropped: boolean;
}

let cached: ServerUser | undefined;

export function serverUser(): ServerUser {
  if (cached) return cached;
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  if (uid !== 0) return (cached = { uid, gid, dropped: false });
  const name = process.env.PGM_TESTKIT_OS_USER ?? 'postgres';
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) {
    throw new TestkitError(
      `running as root, and there is no OS user "${name}" to run PostgreSQL as (initdb/postgres refuse root); create it or set PGM_TESTKIT_OS_USER`,
    );
  }
  const parts = line.split(':');
  return (cached = { uid: Number(parts[2]), gid: Number(parts[3]), dropped: true });
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawnOptions(cwd: string | undefined, env?: NodeJS.ProcessEnv): SpawnOptions {
  const u = serverUser();
  const base: SpawnOptions = {
    cwd,
    env: { ...process.env, ...env, LC_ALL: 'C', LANG: 'C' },
    stdio: ['pipe', 'pipe', 'pipe'],
  };
  if (u.dropped) {
    base.uid = u.uid;
    base.gid = u.gid;
    base.env = { ...base.env, HOME: cwd ?? '/tmp', USER: 'postgres', LOGNAME: 'postgres' };
  }
  return base;
}

/** Runs a command as the server user; resolves with its output, rejects on a non-zero exit. */
export function runAsServerUser(
  file: string,
  args: readonly string[],
  opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv; allowFailure?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, spawnOptions(opts.cwd, opts.env));
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d) => (stdout += d));
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('error', (err) => reject(new TestkitError(`cannot run ${file}: ${err.message}`, { cause: err })));
    child.on('close', (code) => {
      if (code !== 0 && !opts.allowFailure) {
        reject(
          new TestkitError(`${file} ${args.join(' ')} exited with ${code}: ${(stderr || stdout).trim().slice(-2000)}`, {
            details: { code },
          }),
        );
      } else resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/**
 * Runs a short command as the server user (cwd `/`) and returns its exit status and output, e.g. to
 * ask whether that user can reach a path. `status` is null when it could not be started at all
 * (EACCES when a directory on the path is closed to it). Never throws.
 */
export function probeAsServerUser(file: string, args: readonly string[]): { status: number | null; output: string } {
  try {
    const r = spawnSync(file, args, { ...spawnOptions('/'), encoding: 'utf8', timeout: 15_000 });
    return { status: r.error ? null : r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  } catch {
    return { status: null, output: '' };
  }
}

/** Synchronous variant, for exit handlers. Never throws. */
export function runAsServerUserSync(file: string, args: readonly string[], cwd?: string): number | null {
  try {
    const r = spawnSync(file, args, { ...spawnOptions(cwd), stdio: 'ignore', timeout: 15_000 });
    return r.status;
  } catch {
    return null;
  }
}
