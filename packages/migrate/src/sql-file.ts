import { PgmError } from '@pg-multiverse/core';

/** A `.sql` migration file, parsed. */
export interface ParsedSqlFile {
  up: string;
  down?: string;
  description?: string;
  targetSchemas?: string[];
  targetClusters?: string[];
  dependencies?: string[];
  tags?: string[];
  transaction?: boolean;
}

const SECTION = /^\s*--\s*(?:migrate:|\+)?\s*(up|down)\s*$/i;
const DIRECTIVE = /^\s*--\s*pgm:([A-Za-z]+)\s*(.*?)\s*$/;
const LIST_KEYS = new Set(['targetSchemas', 'targetClusters', 'dependencies', 'tags']);

/**
 * Parse a SQL migration: a `-- up` line starts the forward section, a
 * `-- down` line the reverse one. Text before the first marker is the up
 * section when no `-- up` marker exists. Header directives (before any SQL):
 * `-- pgm:targetSchemas users,auth`, `-- pgm:targetClusters c1`,
 * `-- pgm:dependencies v1,v2`, `-- pgm:tags a,b`, `-- pgm:description text`,
 * `-- pgm:transaction false`.
 */
export function parseSqlMigration(text: string, file = 'migration.sql'): ParsedSqlFile {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const meta: Record<string, unknown> = {};
  const sections: Record<'head' | 'up' | 'down', string[]> = { head: [], up: [], down: [] };
  let current: 'head' | 'up' | 'down' = 'head';
  let sawUp = false;
  for (const line of lines) {
    const sec = SECTION.exec(line);
    if (sec) {
      current = sec[1]!.toLowerCase() as 'up' | 'down';
      if (current === 'up') {
        if (sawUp) throw new PgmError('MIGRATION_LOAD_FAILED', `${file}: more than one "-- up" section`);
        sawUp = true;
      }
      continue;
    }
    const dir = DIRECTIVE.exec(line);
    if (dir) {
      const key = dir[1]!;
      const value = dir[2]!;
      if (LIST_KEYS.has(key)) {
        meta[key] = value
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
      } else if (key === 'transaction') {
        if (!/^(true|false)$/i.test(value)) {
          throw new PgmError('MIGRATION_LOAD_FAILED', `${file}: "-- pgm:transaction" must be true or false`);
        }
        meta.transaction = value.toLowerCase() === 'true';
      } else if (key === 'description') {
        meta.description = value;
      } else {
        throw new PgmError('MIGRATION_LOAD_FAILED', `${file}: unknown directive "-- pgm:${key}"`);
      }
      continue;
    }
    sections[current].push(line);
  }
  const up = (sawUp ? sections.up : sections.head).join('\n').trim();
  const down = sections.down.join('\n').trim();
  if (!up) throw new PgmError('MIGRATION_LOAD_FAILED', `${file}: no SQL in the "-- up" section`);
  return { ...(meta as Partial<ParsedSqlFile>), up, ...(down ? { down } : {}) };
}
