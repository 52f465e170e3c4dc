import { type ConnectionProvider, quoteLiteral } from '@pg-multiverse/core';
import type { Decision, DecisionLog } from './decision-log.js';
import { ownerPrefix, parseGid } from './gid.js';
import type { InDoubtTransaction, RecoveryReport, TransactionEvents } from './types.js';

export interface RecoveryContext {
  ownerId: string;
  coordinatorClusterId: string;
  clusterIds: string[];
  primary(clusterId: string): ConnectionProvider;
  log: DecisionLog;
  safeAgeMs: number;
  retentionMs: number;
  emit<K extends keyof TransactionEvents>(event: K, ...args: TransactionEvents[K]): void;
}

/** How long recovery waits for a coordinator transaction that holds its decision row uncommitted. */
const FENCE_WAIT_MS = 5000;

interface Found {
  gid: string;
  txid: string;
  clusterId: string;
  ageMs: number;
}

/** The first error in `err`'s cause chain that carries a SQLSTATE (providers may wrap pg's error). */
function serverError(err: unknown): { code: string; routine?: unknown; message?: unknown } | undefined {
  let e: unknown = err;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return e as { code: string };
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * PostgreSQL's answer to COMMIT/ROLLBACK PREPARED while another session is
 * finishing that same prepared transaction (e.g. its COMMIT PREPARED waits for
 * a synchronous standby): SQLSTATE 55000 (object_not_in_prerequisite_state),
 * raised by `LockGXact` as `prepared transaction with identifier "..." is busy`.
 * 55000 means other things elsewhere, so the routine (reported whatever
 * lc_messages is) or the English message must say it is this one.
 */
export function isPreparedBusyError(err: unknown): boolean {
  const e = serverError(err);
  if (e?.code !== '55000') return false;
  if (e.routine === 'LockGXact') return true;
  return typeof e.message === 'string' && /^prepared transaction with identifier ".*" is busy$/s.test(e.message);
}

/** Run `COMMIT PREPARED` / `ROLLBACK PREPARED`; true when done (or already gone), false when busy elsewhere. */
export async function finishPrepared(
  provider: Pick<ConnectionProvider, 'query'>,
  gid: string,
  action: 'commit' | 'rollback',
): Promise<boolean> {
  try {
    await provider.query(`${action === 'commit' ? 'COMMIT' : 'ROLLBACK'} PREPARED ${quoteLiteral(gid)}`);
    return true;
  } catch (err) {
    if (serverError(err)?.code === '42704') return true; // no such prepared transaction: someone finished it already
    if (isPreparedBusyError(err)) return false; // being finished by another session right now
    throw err;
  }
}

async function scan(provider: ConnectionProvider, clusterId: string, prefix: string): Promise<Found[]> {
  const res = await provider.query<{ gid: string; age_ms: number }>(
    `SELECT gid, GREATEST(0, extract(epoch FROM (now() - prepared)) * 1000)::float8 AS age_ms
       FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1)`,
    [prefix],
  );
  const out: Found[] = [];
  for (const row of res.rows) {
    const parsed = parseGid(row.gid);
    if (!parsed) continue;
    out.push({ gid: row.gid, txid: parsed.txid, clusterId, ageMs: Number(row.age_ms) });
  }
  return out;
}

/**
 * Find our in-doubt prepared transactions on every cluster and finish them
 * the way the decision table says. Without a decision, a prepared transaction
 * older than safeAgeMs is presumed aborted: recovery first records `abort`
 * (so a slow coordinator can no longer record `commit`), then rolls it back.
 * Never touches gids of other owners. Does nothing when the coordinator
 * cluster cannot be reached.
 */
export async function runRecovery(ctx: RecoveryContext): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    ran: false,
    committed: 0,
    rolledBack: 0,
    waiting: 0,
    pruned: 0,
    transactions: [],
    failedClusters: [],
  };
  const coordinator = ctx.primary(ctx.coordinatorClusterId);
  try {
    await ctx.log.ensureTable(coordinator);
  } catch (err) {
    report.reason = `coordinator cluster "${ctx.coordinatorClusterId}" unreachable: ${(err as Error).message}`;
    ctx.emit('recoveryFailed', { clusterId: ctx.coordinatorClusterId, error: err });
    return report;
  }
  const prefix = ownerPrefix(ctx.ownerId);
  const scans = await Promise.all(
    ctx.clusterIds.map(async (clusterId) => {
      try {
        return await scan(ctx.primary(clusterId), clusterId, prefix);
      } catch (err) {
        report.failedClusters.push(clusterId);
        ctx.emit('recoveryFailed', { clusterId, error: err });
        return [];
      }
    }),
  );
  const found = scans.flat();
  const txids = [...new Set(found.map((f) => f.txid))];
  let decisions: Map<string, Decision>;
  try {
    decisions = await ctx.log.lookup(coordinator, txids);
  } catch (err) {
    report.reason = `could not read decisions on "${ctx.coordinatorClusterId}": ${(err as Error).message}`;
    ctx.emit('recoveryFailed', { clusterId: ctx.coordinatorClusterId, error: err });
    return report;
  }
  report.ran = true;

  for (const f of found) {
    let decision = decisions.get(f.txid);
    const entry: InDoubtTransaction = { ...f, decision: decision ?? 'none', action: 'wait' };
    report.transactions.push(entry);
    try {
      if (!decision) {
        if (f.ageMs < ctx.safeAgeMs) {
          report.waiting++;
          continue;
        }
        // Presumed abort, fenced: the first row written for a txid wins. A coordinator whose own
        // transaction inserted `commit` and is committing right now makes this wait for its outcome;
        // one that hangs there is left for a later run (55P03 past FENCE_WAIT_MS).
        try {
          decision = await ctx.log.decide(coordinator, f.txid, ctx.ownerId, 'abort', [f.clusterId], FENCE_WAIT_MS);
        } catch (err) {
          if (serverError(err)?.code !== '55P03') throw err;
          report.waiting++;
          continue;
        }
        decisions.set(f.txid, decision);
        entry.decision = decision;
      }
      const action = decision === 'commit' ? 'commit' : 'rollback';
      const done = await finishPrepared(ctx.primary(f.clusterId), f.gid, action);
      if (!done) {
        report.waiting++;
        continue;
      }
      entry.action = action;
      if (action === 'commit') report.committed++;
      else report.rolledBack++;
      ctx.emit('transactionRecovered', { gid: f.gid, txid: f.txid, clusterId: f.clusterId, action, ageMs: f.ageMs });
    } catch (err) {
      entry.action = 'failed';
      if (!report.failedClusters.includes(f.clusterId)) report.failedClusters.push(f.clusterId);
      ctx.emit('recoveryFailed', { clusterId: f.clusterId, error: err });
    }
  }

  // Old rows can go once no cluster still holds a prepared transaction of theirs.
  // Only when every cluster answered: an unreachable one may still need its decision.
  if (report.failedClusters.length === 0) {
    const keep = report.transactions.filter((t) => t.action === 'wait' || t.action === 'failed').map((t) => t.txid);
    try {
      report.pruned = await ctx.log.prune(coordinator, ctx.ownerId, ctx.retentionMs, keep);
    } catch (err) {
      ctx.emit('recoveryFailed', { clusterId: ctx.coordinatorClusterId, error: err });
    }
  }
  return report;
}
