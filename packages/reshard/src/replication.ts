import { type ConnectionProvider, quoteIdent, quoteLiteral } from '@pg-multiverse/core';
import type { MovingTable } from './moving-tables.js';

/**
 * The copy of a move: a publication on the source whose row filter selects exactly the moving
 * partitions, a subscription on the target (initial copy, then the stream of changes), and the
 * replication slot between them (named like both). Every step is idempotent, so a resumed or
 * rolled-back move can run it again.
 */

/** Publication, subscription and slot name of a move. */
export const replicationName = (moveId: string) => `pgm_move_${moveId}`;

export async function createPublication(
  source: ConnectionProvider,
  name: string,
  tables: readonly MovingTable[],
  filter: string,
): Promise<void> {
  const exists = await source.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [name]);
  if (exists.rows.length > 0) return;
  // No TRUNCATE: a truncate on the source would empty the whole table on the target, other partitions included.
  const list = tables.map((t) => `${t.qualified} WHERE ${filter}`).join(', ');
  await source.query(
    `CREATE PUBLICATION ${quoteIdent(name)} FOR TABLE ${list} WITH (publish = 'insert, update, delete')`,
  );
}

export async function dropPublication(source: ConnectionProvider, name: string): Promise<void> {
  await source.query(`DROP PUBLICATION IF EXISTS ${quoteIdent(name)}`);
}

export async function createSubscription(target: ConnectionProvider, name: string, conninfo: string): Promise<void> {
  const exists = await target.query('SELECT 1 FROM pg_subscription WHERE subname = $1', [name]);
  if (exists.rows.length > 0) return;
  await target.query(
    `CREATE SUBSCRIPTION ${quoteIdent(name)} CONNECTION ${quoteLiteral(conninfo)} PUBLICATION ${quoteIdent(name)} WITH (copy_data = true, create_slot = true, slot_name = ${quoteLiteral(name)})`,
  );
}

/**
 * Drops the subscription without asking the target to reach the source (the slot is detached
 * first), then the slot and any table-sync slots left on the source.
 */
export async function dropSubscription(
  target: ConnectionProvider,
  source: ConnectionProvider,
  name: string,
): Promise<void> {
  const sub = await target.query<{ oid: string }>('SELECT oid::text AS oid FROM pg_subscription WHERE subname = $1', [
    name,
  ]);
  const subOid = sub.rows[0]?.oid;
  if (subOid !== undefined) {
    await target.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} DISABLE`);
    await target.query(`ALTER SUBSCRIPTION ${quoteIdent(name)} SET (slot_name = NONE)`);
    await target.query(`DROP SUBSCRIPTION ${quoteIdent(name)}`);
  }
  const syncPrefix = subOid === undefined ? null : `pg_${subOid}_sync_`;
  // The walsender of a disabled subscription takes a moment to go away: retry while the slot is active.
  for (let i = 0; i < 200; i++) {
    const slots = await source.query<{ slot_name: string; active_pid: number | null }>(
      `SELECT slot_name, active_pid FROM pg_replication_slots
       WHERE slot_name = $1 OR ($2::text IS NOT NULL AND starts_with(slot_name, $2))`,
      [name, syncPrefix],
    );
    if (slots.rows.length === 0) return;
    for (const s of slots.rows) {
      if (s.active_pid !== null) await source.query('SELECT pg_terminate_backend($1)', [s.active_pid]);
      await source.query('SELECT pg_drop_replication_slot($1)', [s.slot_name]).catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Current WAL insert position of a server. */
export async function currentLsn(p: ConnectionProvider): Promise<string> {
  const r = await p.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
  return r.rows[0]!.lsn;
}

/** The slot's confirmed position relative to `lsn` (>= 0: the target has applied everything before it). */
export async function slotState(
  source: ConnectionProvider,
  name: string,
  lsn?: string,
): Promise<{ exists: boolean; lagBytes: number; reached: boolean }> {
  const r = await source.query<{ lag: string | null; reached: boolean | null }>(
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::text AS lag,
            CASE WHEN $2::pg_lsn IS NULL THEN NULL ELSE confirmed_flush_lsn >= $2::pg_lsn END AS reached
     FROM pg_replication_slots WHERE slot_name = $1`,
    [name, lsn ?? null],
  );
  const row = r.rows[0];
  if (!row) return { exists: false, lagBytes: Number.NaN, reached: false };
  return { exists: true, lagBytes: row.lag === null ? Number.NaN : Number(row.lag), reached: row.reached === true };
}

/** Per-table copy state of the subscription on the target. */
export async function subscriptionTables(
  target: ConnectionProvider,
  name: string,
): Promise<Array<{ table: string; state: string; rows: number; bytes: number }>> {
  const r = await target.query<{ table: string; state: string; rows: string | null; bytes: string }>(
    `SELECT n.nspname || '.' || c.relname AS table, sr.srsubstate AS state,
            (SELECT p.tuples_processed FROM pg_stat_progress_copy p WHERE p.relid = sr.srrelid LIMIT 1)::text AS rows,
            pg_table_size(sr.srrelid)::text AS bytes
     FROM pg_subscription s JOIN pg_subscription_rel sr ON sr.srsubid = s.oid
     JOIN pg_class c ON c.oid = sr.srrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE s.subname = $1`,
    [name],
  );
  return r.rows.map((x) => ({ table: x.table, state: x.state, rows: Number(x.rows ?? 0), bytes: Number(x.bytes) }));
}

/** Errors the subscription's workers logged (PG15 `pg_stat_subscription_stats`). */
export async function subscriptionErrors(
  target: ConnectionProvider,
  name: string,
): Promise<{ apply: number; sync: number }> {
  const r = await target.query<{ a: string; s: string }>(
    'SELECT apply_error_count::text AS a, sync_error_count::text AS s FROM pg_stat_subscription_stats WHERE subname = $1',
    [name],
  );
  return { apply: Number(r.rows[0]?.a ?? 0), sync: Number(r.rows[0]?.s ?? 0) };
}
