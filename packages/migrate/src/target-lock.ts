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
 * lock table names holder, host, pid and since (written by the same statement
 * that takes the lock; one statement per location releases them). The sessions stay idle (no
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
  /** Sessions whose lock state is unknown (a lock statement failed): discarded, never unlocked by hand. */
  const discard = new Map<string, Error>();
  const release = async () => {
    // One statement per location: its lock rows deleted, its advisory locks released.
    const byLoc = new Map<string, Target[]>();
    for (const t of held) byLoc.set(locationOf(t), [...(byLoc.get(locationOf(t)) ?? []), t]);
    held.length = 0;
    await Promise.all(
      [...sessions].map(async ([loc, s]) => {
        const ts = byLoc.get(loc) ?? [];
        let failure: Error | undefined = discard.get(loc);
        if (ts.length > 0 && failure === undefined) {
          try {
            await s.conn.query(sql.releaseAll, [ts.map((t) => t.schema), LOCK_NAMESPACE]);
          } catch (err) {
            failure = err as Error; // the session is discarded, which drops its locks
          }
        }
        if (failure === undefined) for (const t of [...ts].reverse()) opts.onReleased?.({ ...t });
        await s.release(failure);
      }),
    );
    sessions.clear();
  };
  try {
    // Every location's lock session is checked out at once; the locks are then taken in order.
    const first = new Map<string, Target>();
    for (const t of sorted) if (!first.has(locationOf(t))) first.set(locationOf(t), t);
    const opened = await Promise.allSettled(
      [...first].map(async ([loc, t]) => sessions.set(loc, await holdConnection(provider(t)))),
    );
    const refused = opened.find((o) => o.status === 'rejected');
    if (refused) throw refused.reason;
    for (const t of sorted) {
      const s = sessions.get(locationOf(t))!;
      const started = Date.now();
      let waited = false;
      for (let attempt = 0; ; attempt++) {
        let r: { rows: Array<{ ok: boolean }> };
        try {
          r = await s.conn.query<{ ok: boolean }>(sql.tryAcquire, [
            LOCK_NAMESPACE,
            t.schema,
            opts.holder,
            hostname(),
            process.pid,
          ]);
        } catch (err) {
          discard.set(locationOf(t), err as Error);
          throw err;
        }
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
