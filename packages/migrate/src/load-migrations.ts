import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { PgmError } from '@pg-multiverse/core';
import { importModule } from './import-module.js';
import { normalizeMigration } from './normalize-migration.js';
import { splitSql } from './split-sql.js';
import { parseSqlMigration } from './sql-file.js';
import type { LoadedMigration, MigrationContext, MigrationLogger } from './types.js';

/** `YYYYMMDDHHMMSS_name.ext` */
export const MIGRATION_FILE = /^(\d{14})_([A-Za-z0-9_.-]+?)\.(ts|mts|cts|js|mjs|cjs|sql)$/;
const CODE_EXT = /\.(ts|mts|cts|js|mjs|cjs|sql)$/;

/** Run SQL text: as one multi-statement query, or statement by statement outside a transaction. */
function sqlRunner(sql: string, transactional: boolean) {
  const statements = transactional ? [sql] : splitSql(sql);
  return async (ctx: MigrationContext) => {
    for (const s of statements) await ctx.query(s);
  };
}

/** Load one migration file (`.sql` or a module). Errors name the file and the cause. */
export async function loadMigrationFile(file: string): Promise<LoadedMigration> {
  const m = MIGRATION_FILE.exec(basename(file));
  const version = m ? `${m[1]}_${m[2]}` : undefined;
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (cause) {
    throw new PgmError('MIGRATION_LOAD_FAILED', `Cannot read migration ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  if (file.endsWith('.sql')) {
    const parsed = parseSqlMigration(source, file);
    const transactional = parsed.transaction !== false;
    return normalizeMigration(
      {
        ...parsed,
        version,
        up: sqlRunner(parsed.up, transactional),
        down: parsed.down === undefined ? undefined : sqlRunner(parsed.down, transactional),
      },
      { file, source, ...(version ? { version } : {}) },
    );
  }
  let mod: unknown;
  try {
    mod = await importModule(file);
  } catch (cause) {
    throw new PgmError('MIGRATION_LOAD_FAILED', `Cannot load migration ${file}: ${(cause as Error).message}`, {
      cause,
    });
  }
  return normalizeMigration(mod, { file, source, ...(version ? { version } : {}) });
}

/**
 * Load every `YYYYMMDDHHMMSS_name.ext` file of a folder, sorted by name. A
 * missing folder yields no migrations; other files are ignored (with a
 * warning for code files that do not follow the naming rule).
 */
export async function loadMigrations(dir: string, logger?: MigrationLogger): Promise<LoadedMigration[]> {
  const abs = resolve(dir);
  let names: string[];
  try {
    names = await readdir(abs);
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new PgmError('MIGRATION_LOAD_FAILED', `Cannot read migrations folder ${abs}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const out: LoadedMigration[] = [];
  for (const name of names.sort()) {
    if (/\.d\.[mc]?ts$/.test(name)) continue;
    if (!MIGRATION_FILE.test(name)) {
      if (CODE_EXT.test(name)) logger?.warn(`Ignoring ${name}: migration files are named YYYYMMDDHHMMSS_name.ext`);
      continue;
    }
    out.push(await loadMigrationFile(join(abs, name)));
  }
  return out;
}
