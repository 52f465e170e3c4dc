import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..', '..');
export const binPath = join(repoRoot, 'packages', 'cli', 'dist', 'bin.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The tests run the built binary (`pnpm test` builds first). When it is
 * missing or older than the sources of cli, migrate or core, build them.
 */
export function ensureBuilt(): void {
  const sources = ['cli', 'migrate', 'core'].map((p) => newestMtime(join(repoRoot, 'packages', p, 'src')));
  const dists = ['cli/dist/bin.js', 'migrate/dist/index.js', 'core/dist/index.js'].map((p) => {
    const f = join(repoRoot, 'packages', p);
    return existsSync(f) ? statSync(f).mtimeMs : 0;
  });
  if (dists.every((d) => d >= Math.max(...sources))) return;
  execFileSync('pnpm', ['--filter', '@pg-multiverse/cli...', 'run', 'build'], {
    cwd: repoRoot,
    stdio: 'pipe',
    env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
  });
}

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
