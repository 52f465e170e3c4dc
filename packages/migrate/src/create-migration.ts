import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { PgmError } from '@pg-multiverse/core';
import { MIGRATION_FILE } from './load-migrations.js';
import type { MigrationCreateOptions } from './types.js';

type Ext = NonNullable<MigrationCreateOptions['ext']>;
const EXTS: readonly Ext[] = ['ts', 'js', 'mjs', 'cjs', 'sql'];

/** `YYYYMMDDHHMMSS` in UTC. */
export function timestamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

const list = (v: readonly string[] | undefined) => JSON.stringify(v ?? []);

function template(ext: Ext, version: string, name: string, o: MigrationCreateOptions): string {
  if (ext === 'sql') {
    const head = [
      `-- ${version}`,
      o.description ? `-- pgm:description ${o.description}` : '',
      o.targetSchemas?.length ? `-- pgm:targetSchemas ${o.targetSchemas.join(',')}` : '',
      o.targetClusters?.length ? `-- pgm:targetClusters ${o.targetClusters.join(',')}` : '',
      o.dependencies?.length ? `-- pgm:dependencies ${o.dependencies.join(',')}` : '',
      o.tags?.length ? `-- pgm:tags ${o.tags.join(',')}` : '',
    ].filter(Boolean);
    return `${head.join('\n')}\n\n-- up\n-- CREATE TABLE example (id bigserial PRIMARY KEY);\nSELECT 1;\n\n-- down\n-- DROP TABLE IF EXISTS example;\nSELECT 1;\n`;
  }
  const fields = [
    `  version: ${JSON.stringify(version)},`,
    `  name: ${JSON.stringify(name)},`,
    `  description: ${JSON.stringify(o.description ?? '')},`,
    `  targetSchemas: ${list(o.targetSchemas)},`,
    o.targetClusters?.length ? `  targetClusters: ${list(o.targetClusters)},` : '',
    o.dependencies?.length ? `  dependencies: ${list(o.dependencies)},` : '',
    `  tags: ${list(o.tags)},`,
    `  async up(context${ext === 'ts' ? ': MigrationContext' : ''}) {`,
    `    // runs with context.schema first on the search_path`,
    `    // await context.query('CREATE TABLE example (id bigserial PRIMARY KEY)');`,
    `  },`,
    `  async down(context${ext === 'ts' ? ': MigrationContext' : ''}) {`,
    `    // await context.query('DROP TABLE IF EXISTS example');`,
    `  },`,
  ].filter(Boolean);
  const body = `{\n${fields.join('\n')}\n}`;
  // No import: a CLI-only install (npm install -D @pg-multiverse/cli) has no pg-multiverse package to import
  // types from (TS2307). The full type is `Migration` of pg-multiverse / @pg-multiverse/migrate.
  if (ext === 'ts') return `${TS_CONTEXT}\nexport default ${body};\n`;
  if (ext === 'cjs') return `${JS_CONTEXT}module.exports = ${body};\n`;
  return `${JS_CONTEXT}export default ${body};\n`;
}

/** The part of pg-multiverse's `MigrationContext` a migration usually needs, spelled out (no import). */
const TS_CONTEXT = `/** What up() and down() get (pg-multiverse's MigrationContext, abridged). */
interface MigrationContext {
  /** The target schema, first on the search_path while the migration runs. */
  readonly schema: string;
  /** The cluster owning the schema. */
  readonly cluster: string;
  /** Runs SQL inside the migration's transaction. */
  query(text: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[]; rowCount: number | null }>;
}
`;

const JS_CONTEXT = `// up(context) and down(context): context.schema, context.cluster, context.query(sql, params).
`;

/**
 * Write `YYYYMMDDHHMMSS_<name>.<ext>` from a template into `dir` (created if
 * missing) and return its absolute path. Never connects to a database. The
 * extension defaults to the one most used in the folder, else `ts`; the
 * timestamp is bumped past the newest existing file so order is kept.
 */
export async function createMigrationFile(
  dir: string,
  name: string,
  options: MigrationCreateOptions = {},
  now: Date = new Date(),
): Promise<string> {
  const clean = name
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!clean) throw new PgmError('INVALID_ARGUMENT', `Invalid migration name ${JSON.stringify(name)}`);
  if (options.ext !== undefined && !EXTS.includes(options.ext)) {
    throw new PgmError('INVALID_ARGUMENT', `Unsupported migration file type "${options.ext}" (use ${EXTS.join(', ')})`);
  }
  const abs = resolve(dir);
  await mkdir(abs, { recursive: true });
  const existing = (await readdir(abs)).filter((f) => MIGRATION_FILE.test(f));
  let ext = options.ext;
  if (!ext) {
    const counts = new Map<Ext, number>();
    for (const f of existing) {
      const e = MIGRATION_FILE.exec(f)![3] as Ext;
      if (EXTS.includes(e)) counts.set(e, (counts.get(e) ?? 0) + 1);
    }
    ext = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'ts';
  }
  let stamp = timestamp(now);
  const newest = existing
    .map((f) => f.slice(0, 14))
    .sort()
    .pop();
  if (newest && newest >= stamp) {
    stamp = timestamp(
      new Date(
        Date.UTC(
          +newest.slice(0, 4),
          +newest.slice(4, 6) - 1,
          +newest.slice(6, 8),
          +newest.slice(8, 10),
          +newest.slice(10, 12),
          +newest.slice(12, 14) + 1,
        ),
      ),
    );
  }
  const version = `${stamp}_${clean}`;
  const file = join(abs, `${version}.${ext}`);
  await writeFile(file, template(ext, version, clean, options), { flag: 'wx' });
  return file;
}
