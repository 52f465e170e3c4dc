import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..', '..');
/** The built binary: `pnpm test` builds before vitest, and the integration project's global setup
 * (scripts/vitest-dist-setup.ts) builds once when a dist is stale. Tests never build. */
export const binPath = join(repoRoot, 'packages', 'cli', 'dist', 'bin.js');

export interface PgmRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Spawn `node dist/bin.js ...args` in `cwd` with a clean environment plus `env`. */
export function pgm(args: string[], opts: { cwd: string; env?: Record<string, string> }): Promise<PgmRun> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' };
    const child = spawn(process.execPath, [binPath, ...args], {
      cwd: opts.cwd,
      env: { ...env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
