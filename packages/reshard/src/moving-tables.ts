import { type ConnectionProvider, PgmError, quoteQualified } from '@pg-multiverse/core';

/** A table whose rows move with their partitions. */
export interface MovingTable {
  schema: string;
  table: string;
  /** `"schema"."table"` */
  qualified: string;
  /** SQL type of the shard key column (`bigint`, `text`, ...). */
  keyType: string;
  /** `name type` of every column, in order (compared between source and target). */
  columns: string[];
  /** Sequences owned by the table's columns (synced to the target at cutover), qualified. */
  sequences: string[];
}

export interface TableScan {
  tables: MovingTable[];
  /** Tables of the cluster's schemas without the shard key column: not moved. */
  skipped: string[];
  /** Why a table cannot move (refused before anything changes). */
  problems: string[];
}

const SQL = `
SELECT n.nspname AS schema, c.relname AS table, c.relkind, c.relispartition,
  (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a
     WHERE a.attrelid = c.oid AND a.attname = $2 AND a.attnum > 0 AND NOT a.attisdropped) AS key_type,
  (SELECT coalesce(json_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum), '[]')
     FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
  (SELECT coalesce(json_agg(quote_ident(sn.nspname) || '.' || quote_ident(s.relname)), '[]')
     FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     JOIN pg_namespace sn ON sn.oid = s.relnamespace
     WHERE d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')) AS sequences,
  CASE c.relreplident
    WHEN 'f' THEN true
    WHEN 'n' THEN false
    WHEN 'd' THEN EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                          WHERE i.indrelid = c.oid AND i.indisprimary AND a.attname = $2)
    ELSE EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                 WHERE i.indrelid = c.oid AND i.indisreplident AND a.attname = $2)
  END AS identity_has_key
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')
ORDER BY 1, 2`;

interface Row {
  schema: string;
  table: string;
  relkind: string;
  relispartition: boolean;
  key_type: string | null;
  columns: string[];
  sequences: string[];
  identity_has_key: boolean;
}

/** The tables of `schemas` on a server, which of them move, and what would stop a move. */
export async function scanTables(p: ConnectionProvider, schemas: readonly string[], key: string): Promise<TableScan> {
  const r = await p.query<Row>(SQL, [schemas, key]);
  const out: TableScan = { tables: [], skipped: [], problems: [] };
  for (const row of r.rows) {
    const name = `${row.schema}.${row.table}`;
    if (row.key_type === null) {
      out.skipped.push(name);
      continue;
    }
    if (row.relkind === 'p' || row.relispartition) {
      out.problems.push(
        `table ${name} is partitioned (or a partition); moves copy plain tables only: shard by listed servers with plain tables`,
      );
      continue;
    }
    if (!row.identity_has_key) {
      out.problems.push(
        `table ${name}: its replica identity must include "${key}" (a primary key containing it, or ALTER TABLE ${quoteQualified(row.schema, row.table)} REPLICA IDENTITY FULL); otherwise UPDATE and DELETE on the source would fail while its rows are published`,
      );
      continue;
    }
    out.tables.push({
      schema: row.schema,
      table: row.table,
      qualified: quoteQualified(row.schema, row.table),
      keyType: row.key_type,
      columns: row.columns,
      sequences: row.sequences,
    });
  }
  return out;
}

/** Refuses (MOVE_REFUSED) when the target lacks a moving table or has other columns. */
export function compareSchemas(clusterId: string, source: TableScan, target: TableScan, targetId: string): void {
  const byName = new Map(target.tables.map((t) => [`${t.schema}.${t.table}`, t]));
  const problems: string[] = [];
  for (const t of source.tables) {
    const other = byName.get(`${t.schema}.${t.table}`);
    if (!other) {
      problems.push(`table ${t.schema}.${t.table} is missing on ${targetId}`);
      continue;
    }
    if (other.columns.join(',') !== t.columns.join(',')) {
      problems.push(
        `table ${t.schema}.${t.table} differs on ${targetId}: (${other.columns.join(', ')}) instead of (${t.columns.join(', ')})`,
      );
    }
  }
  if (problems.length > 0) {
    throw new PgmError(
      'MOVE_REFUSED',
      `Cannot move partitions of "${clusterId}" to ${targetId}: its schema does not match the source after its migrations ran: ${problems.join('; ')}. Bring the migrations of both shards to the same version (pgm migrate) and retry`,
      { clusterId, details: { problems } },
    );
  }
}
