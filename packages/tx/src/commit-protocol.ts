import { type ConnectionProvider, PgmError, quoteLiteral } from '@pg-multiverse/core';
import type { DecisionLog } from './decision-log.js';
import { formatGid } from './gid.js';
import { isPreparedDisabledError } from './preflight.js';
import { finishPrepared } from './recovery.js';
import { isConnectionError, type Session } from './session.js';
import { settledSessions, type TxState, timeoutError } from './tx-state.js';
import type { TransactionHooks } from './types.js';

export interface ProtocolContext {
  ownerId: string;
  coordinatorClusterId: string;
  primary(clusterId: string): ConnectionProvider;
  log: DecisionLog;
  safeAgeMs: number;
  commitRetries: number;
  hooks: TransactionHooks | undefined;
  /** Preflight (max_prepared_transactions) of these clusters and the decision table; cached. */
  ensureTwoPhase(clusterIds: string[]): Promise<void>;
}

export interface CommitOutcome {
  twoPhase: boolean;
  clusters: string[];
  pendingRecovery: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function failure(message: string, clusterId: string | undefined, cause: unknown): PgmError {
  return new PgmError('TRANSACTION_FAILED', message, { cause, clusterId });
}

async function commitPlain(s: Session): Promise<void> {
  let res: { command: string };
  try {
    res = await s.use((c) => c.query('COMMIT'), true);
  } catch (err) {
    if (isConnectionError(err)) {
      s.broken = true;
      throw new PgmError(
        'TRANSACTION_IN_DOUBT',
        `tx: the connection to "${s.clusterId}" broke during COMMIT; whether it committed is unknown`,
        { cause: err, clusterId: s.clusterId },
      );
    }
    throw failure(`tx: COMMIT failed on "${s.clusterId}": ${(err as Error).message}`, s.clusterId, err);
  }
  // COMMIT of an aborted transaction "succeeds" with the tag ROLLBACK.
  if (res.command !== 'COMMIT') {
    throw failure(`tx: the transaction on "${s.clusterId}" was aborted and rolled back`, s.clusterId, undefined);
  }
}

async function prepare(ctx: ProtocolContext, state: TxState, s: Session): Promise<void> {
  const gid = formatGid(ctx.ownerId, state.id, s.clusterId);
  state.attempted.set(s.clusterId, gid);
  let res: { command: string };
  try {
    res = await s.use((c) => c.query(`PREPARE TRANSACTION ${quoteLiteral(gid)}`), true);
  } catch (err) {
    if (isConnectionError(err)) s.broken = true;
    if (isPreparedDisabledError(err)) {
      throw new PgmError(
        'PREPARED_TRANSACTIONS_DISABLED',
        `Cluster "${s.clusterId}" has max_prepared_transactions = 0; set it > 0 on its primary and replicas and restart`,
        { cause: err, clusterId: s.clusterId },
      );
    }
    throw failure(`tx: PREPARE TRANSACTION failed on "${s.clusterId}": ${(err as Error).message}`, s.clusterId, err);
  }
  if (res.command !== 'PREPARE') {
    throw failure(
      `tx: the transaction on "${s.clusterId}" was aborted and could not be prepared`,
      s.clusterId,
      undefined,
    );
  }
}

/** Record the commit decision; returns what is in force. Throws TRANSACTION_IN_DOUBT when that cannot be known. */
async function decide(ctx: ProtocolContext, state: TxState, sessions: Session[]): Promise<'commit' | 'abort'> {
  const participants = [...state.attempted.values()];
  const coord = sessions.find((s) => s.clusterId === ctx.coordinatorClusterId && !s.broken);
  try {
    return coord
      ? await coord.use((c) => ctx.log.decide(c, state.id, ctx.ownerId, 'commit', participants), true)
      : await ctx
          .primary(ctx.coordinatorClusterId)
          .withConnection((c) => ctx.log.decide(c, state.id, ctx.ownerId, 'commit', participants));
  } catch (err) {
    if (!isConnectionError(err)) {
      throw failure(
        `tx: could not record the commit decision: ${(err as Error).message}`,
        ctx.coordinatorClusterId,
        err,
      );
    }
    if (coord) coord.broken = true;
    // The insert may or may not have committed: ask again (idempotent, first row wins).
    try {
      return await ctx.log.decide(ctx.primary(ctx.coordinatorClusterId), state.id, ctx.ownerId, 'commit', participants);
    } catch (err2) {
      state.decided = true; // unknown: never roll back; recovery follows the table
      throw new PgmError(
        'TRANSACTION_IN_DOUBT',
        `tx: transaction ${state.id} is prepared everywhere but the coordinator "${ctx.coordinatorClusterId}" ` +
          'could not be reached to record the decision; recovery will finish it',
        { cause: err2, clusterId: ctx.coordinatorClusterId, details: { id: state.id, gids: participants } },
      );
    }
  }
}

async function commitPrepared(ctx: ProtocolContext, s: Session, gid: string): Promise<boolean> {
  try {
    if (await s.use((c) => finishPrepared(c, gid, 'commit'), true)) return true;
  } catch (err) {
    if (isConnectionError(err)) s.broken = true;
  }
  for (let attempt = 1; attempt < ctx.commitRetries; attempt++) {
    await sleep(25 * 2 ** attempt);
    try {
      if (await finishPrepared(ctx.primary(s.clusterId), gid, 'commit')) return true;
    } catch {
      /* retried, then left to recovery */
    }
  }
  return false;
}

/**
 * Commit the participants. Throws before the decision (the caller rolls
 * back); after it, never throws for a participant that is slow to commit:
 * it is reported in `pendingRecovery` and recovery finishes it.
 */
export async function commitAll(ctx: ProtocolContext, state: TxState): Promise<CommitOutcome> {
  state.phase = 'finishing';
  const sessions = await settledSessions(state, true);
  for (const s of sessions) s.seal();
  const clusters = sessions.map((s) => s.clusterId);
  const bad = sessions.find((s) => s.aborted);
  if (bad) {
    throw failure(
      `tx: a statement failed on "${bad.clusterId}" and was not rolled back to a savepoint; the transaction is rolled back`,
      bad.clusterId,
      undefined,
    );
  }
  if (state.timedOut) throw timeoutError(state);
  if (sessions.length <= 1) {
    if (sessions[0]) await commitPlain(sessions[0]);
    return { twoPhase: false, clusters, pendingRecovery: [] };
  }

  // Which participants wrote? No transaction id assigned = nothing written.
  const wrote = await Promise.all(
    sessions.map(async (s) => {
      try {
        const r = await s.use(
          (c) => c.query<{ wrote: boolean }>('SELECT pg_current_xact_id_if_assigned() IS NOT NULL AS wrote'),
          true,
        );
        return r.rows[0]?.wrote === true;
      } catch (err) {
        if (isConnectionError(err)) s.broken = true;
        throw failure(`tx: participant "${s.clusterId}" failed: ${(err as Error).message}`, s.clusterId, err);
      }
    }),
  );
  const writers = sessions.filter((_, i) => wrote[i]);
  const readers = sessions.filter((_, i) => !wrote[i]);

  if (writers.length <= 1) {
    // One-phase: readers have nothing to make durable; the single writer's COMMIT is the decision.
    await Promise.all(readers.map(commitPlain));
    if (writers[0]) await commitPlain(writers[0]);
    return { twoPhase: false, clusters, pendingRecovery: [] };
  }

  await ctx.ensureTwoPhase(writers.map((s) => s.clusterId));
  const preparedAt = performance.now();
  const results = await Promise.allSettled([
    ...writers.map((s) => prepare(ctx, state, s)),
    ...readers.map(commitPlain),
  ]);
  const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
  if (rejected) throw rejected.reason;
  const gids = Object.fromEntries(state.attempted);
  await ctx.hooks?.afterPrepare?.({ id: state.id, gids });
  if (state.timedOut) throw timeoutError(state);
  if (performance.now() - preparedAt > ctx.safeAgeMs) {
    throw failure(
      `tx: more than safeAgeMs (${ctx.safeAgeMs} ms) passed between PREPARE and the decision; rolled back`,
      undefined,
      undefined,
    );
  }

  const decision = await decide(ctx, state, sessions);
  if (decision !== 'commit') {
    throw failure(
      `tx: transaction ${state.id} was rolled back by recovery before its commit was recorded`,
      undefined,
      undefined,
    );
  }
  state.decided = true;
  try {
    await ctx.hooks?.afterDecision?.({ id: state.id, gids });
  } catch {
    /* test hook; the decision stands */
  }
  const pendingRecovery: string[] = [];
  await Promise.all(
    writers.map(async (s) => {
      if (!(await commitPrepared(ctx, s, state.attempted.get(s.clusterId)!))) pendingRecovery.push(s.clusterId);
    }),
  );
  return { twoPhase: true, clusters, pendingRecovery };
}

/** Roll back every participant (prepared ones with ROLLBACK PREPARED). Never throws. */
export async function rollbackAll(ctx: ProtocolContext, state: TxState): Promise<void> {
  state.phase = 'done';
  const sessions = await settledSessions(state, false);
  await Promise.all(
    sessions.map(async (s) => {
      s.seal();
      const gid = state.attempted.get(s.clusterId);
      try {
        if (gid) await s.use((c) => finishPrepared(c, gid, 'rollback'), true);
        else await s.use((c) => c.query('ROLLBACK'), true);
      } catch {
        s.broken = true;
        if (gid) {
          // PREPARE may have gone through before the connection broke. If this fails too,
          // there is no commit decision, so recovery rolls it back after safeAgeMs.
          await finishPrepared(ctx.primary(s.clusterId), gid, 'rollback').catch(() => undefined);
        }
      }
    }),
  );
}

export async function releaseAll(state: TxState): Promise<void> {
  await Promise.all(state.opened.map((s) => s.release()));
}
