import { type Connection, quoteIdent, quoteLiteral, quoteQualified } from '@pg-multiverse/core';

type Queryable = Pick<Connection, 'query'>;

export type Decision = 'commit' | 'abort';

/**
 * The durable commit decisions, one row per cross-cluster transaction, on the
 * coordinator cluster's primary. A row is written once (`ON CONFLICT DO
 * NOTHING`): the coordinator writes `commit`, recovery writes `abort` to fence
 * off a coordinator that went silent. Whoever writes first decides.
 */
export interface DecisionLog {
  readonly table: string;
  ensureTable(q: Queryable): Promise<void>;
  /**
   * Try to record `decision`; returns the decision in force afterwards (ours or the one written before).
   * When the coordinator's own transaction has inserted the row and not finished yet, PostgreSQL makes
   * this wait for it; `lockTimeoutMs` bounds that wait (SQLSTATE 55P03 past it).
   */
  decide(
    q: Queryable,
    txid: string,
    ownerId: string,
    decision: Decision,
    participants: string[],
    lockTimeoutMs?: number,
  ): Promise<Decision>;
  /**
   * The statement that records `commit` inside the coordinator cluster's own participant
   * transaction (then committed with it, `synchronous_commit = on`): no parameters, so it can
   * share one simple-protocol message with the `COMMIT`. Without ON CONFLICT: a row written
   * before (recovery's `abort`) fails it with a unique violation (23505), and nothing commits.
   */
  commitStatement(txid: string, ownerId: string, participants: readonly string[]): string;
  /** `err` is the unique violation of `commitStatement` on this table: a decision was recorded before. */
  isDecidedBefore(err: unknown): boolean;
  lookup(q: Queryable, txids: readonly string[]): Promise<Map<string, Decision>>;
  /** Delete this owner's rows older than `olderThanMs` whose txid is not in `keep`. Returns how many. */
  prune(q: Queryable, ownerId: string, olderThanMs: number, keep: readonly string[]): Promise<number>;
}

export function createDecisionLog(schema: string, table: string): DecisionLog {
  const qualified = quoteQualified(schema, table);
  return {
    table: qualified,
    async ensureTable(q) {
      const ddl = [
        `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`,
        `CREATE TABLE IF NOT EXISTS ${qualified} (
          txid text PRIMARY KEY,
          owner_id text NOT NULL,
          decision text NOT NULL CHECK (decision IN ('commit', 'abort')),
          participants text[] NOT NULL DEFAULT '{}',
          created_at timestamptz NOT NULL DEFAULT now())`,
      ];
      for (const sql of ddl) {
        // Two processes creating the same object at once: one gets a unique violation; the object exists then.
        for (let attempt = 0; ; attempt++) {
          try {
            await q.query(sql);
            break;
          } catch (err) {
            const code = (err as { code?: string }).code;
            if (attempt < 3 && (code === '23505' || code === '42P07' || code === '42P06')) continue;
            throw err;
          }
        }
      }
    },
    async decide(q, txid, ownerId, decision, participants, lockTimeoutMs) {
      // One statement, committed with synchronous_commit on (set_config(..., true) is SET LOCAL),
      // so the decision is flushed before anyone acts on it.
      const wait =
        lockTimeoutMs === undefined
          ? ''
          : `, set_config('lock_timeout', '${Math.max(1, Math.round(lockTimeoutMs))}', true)`;
      const res = await q.query<{ decision: Decision }>(
        `INSERT INTO ${qualified} (txid, owner_id, decision, participants)
         SELECT $1, $2, $3, $4::text[] FROM (SELECT set_config('synchronous_commit', 'on', true)${wait}) AS durable
         ON CONFLICT (txid) DO NOTHING RETURNING decision`,
        [txid, ownerId, decision, participants],
      );
      if (res.rows[0]) return res.rows[0].decision;
      const existing = await q.query<{ decision: Decision }>(`SELECT decision FROM ${qualified} WHERE txid = $1`, [
        txid,
      ]);
      return existing.rows[0]?.decision ?? decision;
    },
    commitStatement(txid, ownerId, participants) {
      const list = participants.map(quoteLiteral).join(', ');
      return `INSERT INTO ${qualified} (txid, owner_id, decision, participants)
         SELECT ${quoteLiteral(txid)}, ${quoteLiteral(ownerId)}, 'commit', ARRAY[${list}]::text[]
         FROM (SELECT set_config('synchronous_commit', 'on', true)) AS durable`;
    },
    isDecidedBefore(err) {
      const e = err as { code?: unknown; schema?: unknown; table?: unknown } | undefined;
      return e?.code === '23505' && e.schema === schema && e.table === table;
    },
    async lookup(q, txids) {
      const out = new Map<string, Decision>();
      if (txids.length === 0) return out;
      const res = await q.query<{ txid: string; decision: Decision }>(
        `SELECT txid, decision FROM ${qualified} WHERE txid = ANY($1::text[])`,
        [txids],
      );
      for (const r of res.rows) out.set(r.txid, r.decision);
      return out;
    },
    async prune(q, ownerId, olderThanMs, keep) {
      const res = await q.query(
        `DELETE FROM ${qualified} WHERE owner_id = $1 AND created_at < now() - make_interval(secs => $2::float8 / 1000)
         AND NOT (txid = ANY($3::text[]))`,
        [ownerId, olderThanMs, keep],
      );
      return res.rowCount ?? 0;
    },
  };
}
