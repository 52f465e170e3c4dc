import { PgmError } from '@pg-multiverse/core';
import { checksumOf } from './checksum.js';
import type { LoadedMigration, Migration } from './types.js';

const STAMP = /^(\d{14})(?:_|$)/;

function stringList(v: unknown, field: string, where: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0)) {
    throw new PgmError('MIGRATION_LOAD_FAILED', `${where}: "${field}" must be an array of non-empty strings`);
  }
  return [...v];
}

/**
 * Validate a migration object and fill defaults: `name` from the version,
 * empty lists, `transaction: true`, and a checksum (of `source` when given,
 * else of the `up`/`down` function source).
 */
export function normalizeMigration(
  m: unknown,
  defaults: { version?: string; file?: string; source?: string } = {},
): LoadedMigration {
  const where = defaults.file ?? 'migration';
  if (!m || typeof m !== 'object') {
    throw new PgmError(
      'MIGRATION_LOAD_FAILED',
      `${where}: expected a migration object (default export), got ${typeof m}`,
    );
  }
  const o = m as Partial<Migration>;
  const version = o.version ?? defaults.version;
  if (typeof version !== 'string' || !version.trim()) {
    throw new PgmError('MIGRATION_LOAD_FAILED', `${where}: "version" is required (e.g. "20241230120000_create_users")`);
  }
  if (typeof o.up !== 'function') {
    throw new PgmError('MIGRATION_LOAD_FAILED', `${where}: "up" must be a function`, { details: { version } });
  }
  if (o.down !== undefined && typeof o.down !== 'function') {
    throw new PgmError('MIGRATION_LOAD_FAILED', `${where}: "down" must be a function when given`, {
      details: { version },
    });
  }
  const name = typeof o.name === 'string' && o.name ? o.name : version.replace(STAMP, '') || version;
  const source =
    defaults.source ?? (typeof o.checksum === 'string' ? undefined : `${o.up.toString()}\n${o.down?.toString() ?? ''}`);
  const out: LoadedMigration = {
    ...o,
    version,
    name,
    up: o.up,
    targetSchemas: stringList(o.targetSchemas, 'targetSchemas', where),
    dependencies: stringList(o.dependencies, 'dependencies', where),
    tags: stringList(o.tags, 'tags', where),
    transaction: o.transaction !== false,
    checksum: source === undefined ? (o.checksum as string) : checksumOf(source),
  };
  if (o.targetClusters !== undefined) out.targetClusters = stringList(o.targetClusters, 'targetClusters', where);
  if (defaults.file) out.file = defaults.file;
  return out;
}

/** The 14-digit timestamp of a version, if it starts with one. */
export function versionStamp(version: string): string | undefined {
  return STAMP.exec(version)?.[1];
}
