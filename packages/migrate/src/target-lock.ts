import { hostname } from 'node:os';
import { type ConnectionProvider, locationOf } from '@pg-multiverse/core';
import { type ControlTables, LOCK_NAMESPACE, lockSql } from './control-tables.js';
import { MigrationError } from './errors.js';
import { type HeldConnection, holdConnection } from './hold-connection.js';
import { type Target, targetKey } from './targets.js';
import type { LockEvent } from './types.js';

export interface LockOptions {
  tables: ControlTables;
  timeoutMs: number;
  holder: string;
  onWaiting?: (e: LockEvent) => void;
  onAcquired?: (e: LockEvent) => void;
  onReleased?: (e: LockEvent) => void;
}

/** Locks held on some targets: one idle session per location (cluster or shard) holding session-level advisory locks. */
export interface TargetLocks {
  release(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Lock targets in a canonical order (so two runners never wait on each other
 * in a cycle). Each lock is `pg_try_advisory_lock(hashtext(ns), hashtext(schema))`
 * polled with backoff up to `timeoutMs`; never a blocking wait. A row in the
 * lock table names holder, host, pid and since. The sessions stay idle (no
 * open transaction) so `CREATE INDEX CONCURRENTLY` elsewhere is not blocked.
 * A crashed runner's session ends and PostgreSQL drops its locks.
 */
export async function lockTargets(
  targets: readonly Target[],
  provider: (target: Target) => ConnectionProvider,
  opts: LockOptions,
): Promise<TargetLocks> {
  const sorted = [...targets].sort((a, b) => targetKey(a).localeCompare(targetKey(b)));
  const sessions = new Map<string, HeldConnection>();
  const held: Target[] = [];
  const sql = lockSql(opts.tables);
  const release = async () => {
    let failure: Error | undefined;
    for (const t of [...held].reverse()) {
      const s = sessions.get(locationOf(t))!;
      try {
        await s.conn.query(sql.remove, [t.schema]);
        await s.conn.query('SELECT pg_advisory_unlock(hashtext($1), hashtext($2))', [LOCK_NAMESPACE, t.schema]);
        opts.onReleased?.({ ...t });
      } catch (err) {
        failure = err as Error; // the session is discarded below, which drops its locks
      }
    }
    held.length = 0;
    for (const s of sessions.values()) await s.release(failure);
    sessions.clear();
  };
  try {
    for (const t of sorted) {
      let s = sessions.get(locationOf(t));
      if (!s) {
        s = await holdConnection(provider(t));
        sessions.set(locationOf(t), s);
      }
      const started = Date.now();
      let waited = false;
      for (let attempt = 0; ; attempt++) {
        const r = await s.conn.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS ok', [
          LOCK_NAMESPACE,
          t.schema,
        ]);
        if (r.rows[0]!.ok) break;
        const holder = await currentHolder(s, opts.tables, t.schema);
        if (!waited) {
          waited = true;
          opts.onWaiting?.({ ...t, ...(holder ? { holder } : {}) });
        }
        const elapsed = Date.now() - started;
        if (elapsed >= opts.timeoutMs) {
          throw new MigrationError(
            'MIGRATION_LOCK_TIMEOUT',
            `Timed out after ${elapsed} ms waiting for the migration lock on ${targetKey(t)}${holder ? `, held by ${holder}` : ''}`,
            { schema: t.schema, clusterId: t.cluster, details: { holder } },
          );
        }
        await sleep(Math.min(20 * 1.5 ** attempt, 500, Math.max(1, opts.timeoutMs - elapsed)));
      }
      held.push(t);
      await s.conn.query(sql.upsert, [t.schema, opts.holder, hostname(), process.pid]);
      opts.onAcquired?.({ ...t, waitedMs: Date.now() - started });
    }
  } catch (err) {
    await release().catch(() => {});
    throw err;
  }
  return { release };
}

async function currentHolder(s: HeldConnection, t: ControlTables, schema: string): Promise<string | undefined> {
  try {
    const r = await s.conn.query<{ holder: string; host: string; pid: number; since: Date }>(lockSql(t).live, [
      [schema],
      LOCK_NAMESPACE,
    ]);
    const row = r.rows[0];
    return row ? `${row.holder} (host ${row.host}, pid ${row.pid}, since ${row.since.toISOString()})` : undefined;
  } catch {
    return undefined;
  }
}
