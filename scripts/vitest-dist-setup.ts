import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Vitest globalSetup of the integration project. Some tests run the built packages
// (the `pgm` binaries, pack-smoke, a subprocess importing pg-multiverse's dist). `pnpm test`
// builds before vitest starts; when vitest runs alone and a package's dist is missing or older
// than its sources, this builds every package ONCE, before any test file runs, so no test
// rebuilds dist while another runs it. A lock keeps two vitest runs of one checkout from
// building at the same time.

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const packagesDir = join(repoRoot, 'packages');
const lockDir = join(repoRoot, 'node_modules', '.cache', 'pgm-dist-build.lock');

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return path.endsWith('.test.ts') ? 0 : st.mtimeMs;
  let newest = 0;
  for (const name of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, name)));
  return newest;
}

function oldestMtime(dir: string): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    oldest = Math.min(oldest, e.isDirectory() ? oldestMtime(p) : statSync(p).mtimeMs);
  }
  return oldest;
}

/** Packages whose dist is missing or older than their src/, package.json or tsup.config.ts. */
export function staleDists(): string[] {
  const stale: string[] = [];
  for (const name of readdirSync(packagesDir).sort()) {
    const pkg = join(packagesDir, name);
    if (!existsSync(join(pkg, 'tsup.config.ts'))) continue;
    const dist = join(pkg, 'dist');
    const sources = Math.max(
      newestMtime(join(pkg, 'src')),
      newestMtime(join(pkg, 'package.json')),
      newestMtime(join(pkg, 'tsup.config.ts')),
    );
    if (!existsSync(dist) || readdirSync(dist).length === 0 || oldestMtime(dist) < sources) stale.push(name);
  }
  return stale;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock, or returns false while another live process holds it (a dead holder's lock is taken over). */
function tryLock(): boolean {
  mkdirSync(join(lockDir, '..'), { recursive: true });
  try {
    mkdirSync(lockDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    let holder = Number.NaN;
    try {
      holder = Number(readFileSync(join(lockDir, 'pid'), 'utf8'));
    } catch {} // just made, pid not written yet: treat as held
    if (Number.isNaN(holder) || alive(holder)) return false;
    rmSync(lockDir, { recursive: true, force: true });
    return tryLock();
  }
  writeFileSync(join(lockDir, 'pid'), String(process.pid));
  return true;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export default async function setup(): Promise<void> {
  if (staleDists().length === 0) return;
  while (!tryLock()) await pause(500); // another run of this checkout is building: wait for it, then look again
  try {
    const stale = staleDists();
    if (stale.length === 0) return;
    const r = spawnSync('pnpm', ['turbo', 'run', 'build'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' },
    });
    if (r.status !== 0) {
      const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.trim().split('\n').slice(-40).join('\n');
      throw new Error(
        `the built packages (dist) of ${stale.join(', ')} are missing or older than their sources, and \`pnpm turbo run build\` failed${r.error ? ` (${r.error.message})` : ''}; fix the build, run \`pnpm build\`, then the tests:\n${out}`,
      );
    }
    const still = staleDists();
    if (still.length > 0) {
      throw new Error(
        `after \`pnpm turbo run build\` the dist of ${still.join(', ')} is still older than its sources; run \`pnpm build\` and look at its output`,
      );
    }
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}
