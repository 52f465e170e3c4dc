import type { Connection, ConnectionProvider } from '@pg-multiverse/core';
import { PgmError, quoteIdent } from '@pg-multiverse/core';
import { CONTROL_SCHEMA } from './row-filter.js';
import type { MoveRecord, MoveState } from './types.js';

const T = `${quoteIdent(CONTROL_SCHEMA)}.moves`;

/** States after which the move is over. */
export const FINAL_STATES: readonly MoveState[] = ['done', 'rolled_back'];

interface Row {
  id: string;
  cluster: string;
  source: string;
  target: string;
  partitions: number[];
  state: MoveState;
  keep_source: boolean;
  map_version: number | null;
  error: string | null;
}

const toRecord = (r: Row): MoveRecord => ({
  id: r.id,
  cluster: r.cluster,
  source: r.source,
  target: r.target,
  partitions: r.partitions.map(Number),
  state: r.state,
  keepSource: r.keep_source,
  mapVersion: r.map_version === null ? null : Number(r.map_version),
  error: r.error,
});

/**
 * The durable move journal: one row per move (source shard -> target shard), its state written
 * before the step it names starts, so a fresh process knows what a crash left behind. Lives on
 * the server `ClusterAccess.journal` names, in `pgm_reshard.moves`.
 */
export class MoveJournal {
  constructor(private readonly db: ConnectionProvider) {}

  async ensure(): Promise<void> {
    await this.db.withConnection(async (c) => {
      await c.query('BEGIN');
      try {
        await c.query("SELECT pg_advisory_xact_lock(hashtext('pgm_reshard.control'))");
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(CONTROL_SCHEMA)}`);
        await c.query(`CREATE TABLE IF NOT EXISTS ${T} (
          id text PRIMARY KEY,
          cluster text NOT NULL,
          source text NOT NULL,
          target text NOT NULL,
          partitions int[] NOT NULL,
          state text NOT NULL,
          keep_source boolean NOT NULL DEFAULT false,
          map_version int,
          error text,
          created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
          updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
        await c.query('COMMIT');
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      }
    });
  }

  async insert(m: Omit<MoveRecord, 'mapVersion' | 'error'>): Promise<MoveRecord> {
    const r = await this.db.query<Row>(
      `INSERT INTO ${T} (id, cluster, source, target, partitions, state, keep_source) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [m.id, m.cluster, m.source, m.target, m.partitions, m.state, m.keepSource],
    );
    return toRecord(r.rows[0]!);
  }

  /** Moves a record from `from` to `to` (compare-and-set on the state: a stale writer fails loudly). */
  async transition(
    m: MoveRecord,
    to: MoveState,
    extra: { mapVersion?: number; error?: string | null } = {},
  ): Promise<MoveRecord> {
    const r = await this.db.query<Row>(
      `UPDATE ${T} SET state = $3, map_version = coalesce($4, map_version), error = CASE WHEN $5::boolean THEN $6 ELSE error END, updated_at = clock_timestamp()
       WHERE id = $1 AND state = $2 RETURNING *`,
      [m.id, m.state, to, extra.mapVersion ?? null, extra.error !== undefined, extra.error ?? null],
    );
    if (r.rows.length === 0) {
      throw new PgmError(
        'MOVE_NEEDS_RECOVERY',
        `Move ${m.id} of "${m.cluster}" is no longer in state ${m.state} (another process changed it); run recoverMoves()`,
        { clusterId: m.cluster },
      );
    }
    return toRecord(r.rows[0]!);
  }

  /** Moves of `cluster` (every cluster when omitted) that are not over. */
  async unfinished(cluster?: string): Promise<MoveRecord[]> {
    const r = await this.db.query<Row>(
      `SELECT * FROM ${T} WHERE state <> ALL ($1::text[]) AND ($2::text IS NULL OR cluster = $2) ORDER BY created_at`,
      [FINAL_STATES, cluster ?? null],
    );
    return r.rows.map(toRecord);
  }

  async get(id: string): Promise<MoveRecord | undefined> {
    const r = await this.db.query<Row>(`SELECT * FROM ${T} WHERE id = $1`, [id]);
    return r.rows[0] ? toRecord(r.rows[0]) : undefined;
  }

  /**
   * Runs `fn` while holding the cluster's move lock: a session advisory lock on the journal's
   * server, so one process moves partitions of a cluster at a time, and a crashed mover's lock
   * goes away with its connection (recovery can then take over). Busy: MOVE_IN_PROGRESS.
   */
  async withClusterLock<T>(cluster: string, fn: () => Promise<T>): Promise<T> {
    return this.db.withConnection(async (c: Connection) => {
      const r = await c.query<{ ok: boolean }>(
        "SELECT pg_try_advisory_lock(hashtext('pgm_reshard.move'), hashtext($1)) AS ok",
        [cluster],
      );
      if (!r.rows[0]?.ok) {
        throw new PgmError(
          'MOVE_IN_PROGRESS',
          `Another process is moving partitions of "${cluster}" (it holds the cluster's move lock); wait for it to finish, or stop it and run recoverMoves()`,
          { clusterId: cluster },
        );
      }
      try {
        return await fn();
      } finally {
        await c
          .query("SELECT pg_advisory_unlock(hashtext('pgm_reshard.move'), hashtext($1))", [cluster])
          .catch(() => {});
      }
    });
  }
}
