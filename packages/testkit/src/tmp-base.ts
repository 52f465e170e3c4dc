import { accessSync, constants, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { TestkitError } from './errors.js';
import { probeAsServerUser, serverUser } from './run-as.js';

/**
 * Whether the server user can enter `dir` (search permission on it and every
 * directory above it). Always true when the servers run as ourselves. A
 * directory made by `mktemp -d` as root (mode 700) is closed to `postgres`.
 */
export function serverUserCanEnter(dir: string): boolean {
  let dropped: boolean;
  try {
    dropped = serverUser().dropped;
  } catch {
    return true; // root without a server user: startTopology reports that
  }
  return !dropped || probeAsServerUser('test', ['-x', dir]).status === 0;
}

function explicitDir(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.PGM_TESTKIT_TMPDIR;
  if (!dir) return undefined;
  if (!serverUserCanEnter(dir)) {
    throw new TestkitError(
      `PGM_TESTKIT_TMPDIR=${dir}: the OS user the servers run as cannot enter it (a directory above it is closed to others?); choose a directory every user can enter, or unset it`,
    );
  }
  return dir;
}

/** os.tmpdir(), or `/tmp` when the server user cannot enter it (e.g. TMPDIR made by `mktemp -d` as root). */
function systemTmp(tmp: string): string {
  return tmp !== '/tmp' && !serverUserCanEnter(tmp) ? '/tmp' : tmp;
}

/**
 * Where data directories, sockets and templates live: `PGM_TESTKIT_TMPDIR` if
 * set (the server user must be able to enter it), else `/dev/shm` when it is a
 * writable tmpfs (copying a data directory there is ~10x faster than to a
 * disk-backed /tmp), else `os.tmpdir()` (`/tmp` if the server user cannot
 * enter that). Uncached; see `baseTmpDir`.
 */
export function pickBaseTmpDir(env: NodeJS.ProcessEnv = process.env, tmp: string = tmpdir()): string {
  const explicit = explicitDir(env);
  if (explicit) return explicit;
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8');
    if (/^\S+ \/dev\/shm tmpfs /m.test(mounts)) {
      accessSync('/dev/shm', constants.W_OK);
      if (serverUserCanEnter('/dev/shm')) return '/dev/shm';
    }
  } catch {}
  return systemTmp(tmp);
}

/**
 * Where copies of binaries the server user cannot reach are cached:
 * `PGM_TESTKIT_TMPDIR` if set, else `os.tmpdir()` (`/tmp` if the server user
 * cannot enter that). Never `/dev/shm`: it is often mounted `noexec`, and the
 * copy would sit in memory. Uncached; see `binCacheDir`.
 */
export function pickBinCacheDir(env: NodeJS.ProcessEnv = process.env, tmp: string = tmpdir()): string {
  return explicitDir(env) ?? systemTmp(tmp);
}

let base: string | undefined;
let binCache: string | undefined;

/** `pickBaseTmpDir()`, decided once per process. */
export function baseTmpDir(): string {
  base ??= pickBaseTmpDir();
  return base;
}

/** `pickBinCacheDir()`, decided once per process. */
export function binCacheDir(): string {
  binCache ??= pickBinCacheDir();
  return binCache;
}
