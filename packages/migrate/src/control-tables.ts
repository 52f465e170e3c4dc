import type { Connection, ConnectionProvider } from '@pg-multiverse/core';
import { quoteIdent, quoteQualified } from '@pg-multiverse/core';
import pg from 'pg';
import { MigrationError } from './errors.js';
import type { HistoryRow } from './plan.js';

/** Names of the control objects on every cluster. */
export interface ControlTables {
  schema: string;
  migrations: string;
  locks: string;
}

/** Namespace of the advisory lock keys: `(hashtext(LOCK_NAMESPACE), hashtext(<schema>))`. */
export const LOCK_NAMESPACE = 'pg-multiverse:migrate';

/** A string literal for the simple protocol (pg's own escaping: quotes and backslashes). */
const literal = (v: string): string => pg.escapeLiteral(v);

const q = (t: ControlTables) => ({
  history: quoteQualified(t.schema, t.migrations),
  locks: quoteQualified(t.schema, t.locks),
});

/** True when both control tables exist. */
export async function controlTablesExist(c: Pick<Connection, 'query'>, t: ControlTables): Promise<boolean> {
  const r = await c.query<{ h: string | null; l: string | null }>('SELECT to_regclass($1) AS h, to_regclass($2) AS l', [
    quoteQualified(t.schema, t.migrations),
    quoteQualified(t.schema, t.locks),
  ]);
  return r.rows[0]!.h !== null && r.rows[0]!.l !== null;
}

/**
 * Create the control schema and tables when missing (serialised between
 * runners by a transaction-level advisory lock, polled). `missing` (the caller
 * just read them missing) skips the first existence check. Two round
 * trips when uncontended: `BEGIN` with the lock, then the DDL with `COMMIT`.
 */
export async function ensureControlTables(
  provider: ConnectionProvider,
  t: ControlTables,
  autoCreate: boolean,
  missing = false,
) {
  if (!missing && (await controlTablesExist(provider, t))) return;
  if (!autoCreate) {
    throw new MigrationError(
      'MIGRATION_FAILED',
      `Control tables ${quoteQualified(t.schema, t.migrations)} / ${quoteQualified(t.schema, t.locks)} are missing on ${provider.id} and autoCreateMigrationsTable is false`,
    );
  }
  const n = q(t);
  const lock = `SELECT pg_try_advisory_xact_lock(hashtext(${literal(LOCK_NAMESPACE)}), hashtext(${literal(`control:${t.schema}`)})) AS ok`;
  await provider.withConnection(async (c) => {
    try {
      const first = (await c.query(`BEGIN; ${lock}`)) as unknown as Array<{ rows: Array<{ ok: boolean }> }>;
      let ok = Array.isArray(first) && first[1]?.rows[0]?.ok === true;
      for (let i = 0; !ok; i++) {
        await new Promise((res) => setTimeout(res, Math.min(10 * 2 ** i, 200)));
        ok = (await c.query<{ ok: boolean }>(lock)).rows[0]!.ok;
      }
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(t.schema)};
      CREATE TABLE IF NOT EXISTS ${n.history} (
        id bigserial PRIMARY KEY,
        schema_name text NOT NULL,
        version text NOT NULL,
        name text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        execution_ms integer NOT NULL,
        applied_by text NOT NULL,
        UNIQUE (schema_name, version)
      );
      CREATE TABLE IF NOT EXISTS ${n.locks} (
        schema_name text PRIMARY KEY,
        holder text NOT NULL,
        host text NOT NULL,
        pid integer NOT NULL,
        backend_pid integer NOT NULL,
        since timestamptz NOT NULL DEFAULT now()
      );
      COMMIT`);
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
}

/**
 * History rows of some schemas, per schema in order of application, and whether
 * the control tables exist (rows empty when they do not). `known: true` skips
 * the existence check (the caller saw or made them in this run): one round trip.
 */
export async function readHistory(
  c: Pick<Connection, 'query'>,
  t: ControlTables,
  schemas: readonly string[],
  known = false,
): Promise<{ exists: boolean; rows: Map<string, HistoryRow[]> }> {
  const out = new Map<string, HistoryRow[]>();
  if (schemas.length === 0) return { exists: known, rows: out };
  if (!known && !(await controlTablesExist(c, t))) return { exists: false, rows: out };
  const r = await c.query<{
    id: string;
    schema_name: string;
    version: string;
    name: string;
    checksum: string;
    applied_at: Date;
    execution_ms: number;
    applied_by: string;
  }>(
    `SELECT id, schema_name, version, name, checksum, applied_at, execution_ms, applied_by FROM ${q(t).history} WHERE schema_name = ANY($1) ORDER BY id`,
    [schemas],
  );
  for (const row of r.rows) {
    const list = out.get(row.schema_name) ?? [];
    list.push({
      id: Number(row.id),
      schema: row.schema_name,
      version: row.version,
      name: row.name,
      checksum: row.checksum,
      appliedAt: row.applied_at,
      executionMs: row.execution_ms,
      appliedBy: row.applied_by,
    });
    out.set(row.schema_name, list);
  }
  return { exists: true, rows: out };
}

export const historySql = (t: ControlTables) => {
  const history = q(t).history;
  return {
    /**
     * The history row of an applied step followed by `COMMIT`: one simple-protocol
     * round trip (values inlined with pg's `escapeLiteral`, safe whatever
     * standard_conforming_strings says), so the row commits with the step's work.
     */
    insertAndCommit: (row: {
      schema: string;
      version: string;
      name: string;
      checksum: string;
      ms: number;
      holder: string;
    }) =>
      `INSERT INTO ${history} (schema_name, version, name, checksum, execution_ms, applied_by) VALUES (${literal(
        row.schema,
      )}, ${literal(row.version)}, ${literal(row.name)}, ${literal(row.checksum)}, ${Math.max(
        0,
        Math.min(2_147_483_647, Math.round(row.ms)),
      )}, ${literal(row.holder)}); COMMIT`,
    /** A rolled-back step's history row removed, then `COMMIT` (one round trip). */
    removeAndCommit: (schema: string, version: string) =>
      `DELETE FROM ${history} WHERE schema_name = ${literal(schema)} AND version = ${literal(version)}; COMMIT`,
    insert: `INSERT INTO ${history} (schema_name, version, name, checksum, execution_ms, applied_by) VALUES ($1, $2, $3, $4, $5, $6)`,
    remove: `DELETE FROM ${history} WHERE schema_name = $1 AND version = $2`,
    updateChecksum: `UPDATE ${history} SET checksum = $3 WHERE schema_name = $1 AND version = $2 AND checksum <> $3`,
  };
};

/** The history statements of some control tables (`historySql`). */
export type HistorySql = ReturnType<typeof historySql>;

/** Lock rows (visibility only; the advisory lock is the real lock). */
export const lockSql = (t: ControlTables) => ({
  /**
   * Try the target's advisory lock and, when granted, write its lock row: one
   * round trip. `$1` namespace, `$2` schema, `$3` holder, `$4` host, `$5` pid.
   * (A session-level advisory lock survives a failed statement: a caller that
   * sees this fail discards the session, which drops the lock.)
   */
  tryAcquire: `WITH l AS (SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok),
    u AS (INSERT INTO ${q(t).locks} (schema_name, holder, host, pid, backend_pid, since)
      SELECT $2, $3, $4, $5, pg_backend_pid(), now() FROM l WHERE l.ok
      ON CONFLICT (schema_name) DO UPDATE SET holder = EXCLUDED.holder, host = EXCLUDED.host, pid = EXCLUDED.pid, backend_pid = EXCLUDED.backend_pid, since = EXCLUDED.since)
    SELECT ok FROM l`,
  /**
   * Remove this session's lock rows of some schemas (`$1` text[]) and release their
   * advisory locks (`$2` namespace): one round trip for every target of a location.
   */
  releaseAll: `WITH d AS (DELETE FROM ${q(t).locks} WHERE schema_name = ANY($1::text[]) AND backend_pid = pg_backend_pid())
    SELECT pg_advisory_unlock(hashtext($2), hashtext(s)) AS released FROM unnest($1::text[]) AS s`,
  /** Rows whose backend still holds the advisory lock (stale rows of crashed runners are not listed). */
  live: `SELECT l.schema_name, l.holder, l.host, l.pid, l.since FROM ${q(t).locks} l
    WHERE l.schema_name = ANY($1) AND EXISTS (
      SELECT 1 FROM pg_locks k WHERE k.locktype = 'advisory' AND k.granted AND k.pid = l.backend_pid
        AND k.classid::int = hashtext($2) AND k.objid::int = hashtext(l.schema_name) AND k.objsubid = 2)`,
});
