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

/**
 * Record the commit decision with an autocommit insert on the coordinator cluster's primary (the
 * coordinator cluster is not a participant). Returns what is in force. Throws TRANSACTION_IN_DOUBT
 * when that cannot be known.
 */
async function decideApart(ctx: ProtocolContext, state: TxState): Promise<'commit' | 'abort'> {
  const participants = [...state.attempted.values()];
  try {
    return await ctx.log.decide(ctx.primary(ctx.coordinatorClusterId), state.id, ctx.ownerId, 'commit', participants);
  } catch (err) {
    if (!isConnectionError(err)) {
      throw failure(
        `tx: could not record the commit decision: ${(err as Error).message}`,
        ctx.coordinatorClusterId,
        err,
      );
    }
    // The insert may or may not have committed: ask again (idempotent, first row wins).
    try {
      return await ctx.log.decide(ctx.primary(ctx.coordinatorClusterId), state.id, ctx.ownerId, 'commit', participants);
    } catch (err2) {
      throw inDoubt(ctx, state, err2);
    }
  }
}

function inDoubt(ctx: ProtocolContext, state: TxState, cause: unknown): PgmError {
  state.decided = true; // unknown: never roll back; recovery follows the table
  return new PgmError(
    'TRANSACTION_IN_DOUBT',
    `tx: transaction ${state.id} is prepared but the coordinator "${ctx.coordinatorClusterId}" ` +
      'could not be reached to record or read the decision; recovery will finish it',
    { cause, clusterId: ctx.coordinatorClusterId, details: { id: state.id, gids: [...state.attempted.values()] } },
  );
}

const ABORTED_BY_RECOVERY = (state: TxState) =>
  failure(
    `tx: transaction ${state.id} was rolled back by recovery before its commit was recorded`,
    undefined,
    undefined,
  );

/**
 * The coordinator cluster takes part: its own transaction records the decision and then commits
 * plainly, both in one round trip. That COMMIT is the decision: the row exists exactly when the
 * coordinator's writes do. The insert has no ON CONFLICT: if recovery fenced the transaction with
 * `abort` first, the unique key fails the insert, the COMMIT is skipped, and everything rolls back.
 * A connection lost meanwhile is settled at once by trying to fence with `abort` on a new
 * connection: PostgreSQL makes that insert wait for the coordinator's transaction if it is still
 * running, so the answer is the outcome.
 */
async function decideWithin(ctx: ProtocolContext, state: TxState, holder: Session): Promise<void> {
  const participants = [...state.attempted.values()];
  const sql = `${ctx.log.commitStatement(state.id, ctx.ownerId, participants)}; COMMIT`;
  let res: unknown;
  try {
    res = await holder.use((c) => c.query(sql), true);
  } catch (err) {
    if (isConnectionError(err)) {
      holder.broken = true;
      let decision: 'commit' | 'abort';
      try {
        decision = await ctx.log.decide(
          ctx.primary(ctx.coordinatorClusterId),
          state.id,
          ctx.ownerId,
          'abort',
          participants,
        );
      } catch (err2) {
        throw inDoubt(ctx, state, err2);
      }
      if (decision === 'commit') return;
      throw failure(
        `tx: the connection to the coordinator "${holder.clusterId}" broke before its commit; rolled back`,
        holder.clusterId,
        err,
      );
    }
    if (ctx.log.isDecidedBefore(err)) throw ABORTED_BY_RECOVERY(state);
    throw failure(`tx: COMMIT failed on "${holder.clusterId}": ${(err as Error).message}`, holder.clusterId, err);
  }
  const last = (Array.isArray(res) ? res.at(-1) : res) as { command?: string } | undefined;
  if (last?.command !== 'COMMIT') {
    throw failure(
      `tx: the transaction on "${holder.clusterId}" was aborted and rolled back`,
      holder.clusterId,
      undefined,
    );
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

/** Did this participant's transaction write? (`pg_current_xact_id_if_assigned()`: no id = nothing written.) */
async function wroteAnything(s: Session): Promise<boolean> {
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
}

/** A participant that wrote nothing commits now and gives its connection back. */
async function commitReader(s: Session): Promise<void> {
  await commitPlain(s);
  await s.release();
}

/**
 * Commit the participants. Throws before the decision (the caller rolls
 * back); after it, never throws for a participant that is slow to commit:
 * it is reported in `pendingRecovery` and recovery finishes it.
 *
 * Round trips after the callback (see the README): a participant whose
 * statements may have written (core's SQL analysis, "when unsure: write") is
 * prepared without asking; one whose statements all read is asked whether it
 * wrote, and then committed and released, or prepared. With the coordinator
 * cluster among the participants, its own transaction records the decision
 * and commits: PREPARE (others) -> decision + COMMIT -> COMMIT PREPARED (others).
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

  if (state.options.readOnly) {
    // READ ONLY participants cannot write anything another session sees (temporary tables at most,
    // which cannot be prepared anyway): nothing to make atomic.
    await Promise.all(sessions.map(commitPlain));
    return { twoPhase: false, clusters, pendingRecovery: [] };
  }

  const writers = sessions.filter((s) => s.mayHaveWritten);
  let readers = sessions.filter((s) => !s.mayHaveWritten);
  const checked = new Set<Session>();
  if (writers.length <= 1) {
    // Whether the commit needs two phases depends on the readers: ask them (one round trip, in parallel).
    const wrote = await Promise.all(readers.map(wroteAnything));
    writers.push(...readers.filter((_, i) => wrote[i]));
    readers = readers.filter((_, i) => !wrote[i]);
    if (writers.length <= 1) {
      // One-phase: readers have nothing to make durable; the single writer's COMMIT is the decision.
      await Promise.all([...readers.map(commitReader), ...writers.map(commitPlain)]);
      return { twoPhase: false, clusters, pendingRecovery: [] };
    }
    for (const s of readers) checked.add(s);
  }

  // The coordinator cluster's own participant holds the decision when it takes part (whether it wrote or not).
  const holder = sessions.find((s) => s.clusterId === ctx.coordinatorClusterId);
  const toPrepare = writers.filter((s) => s !== holder);
  const unchecked = readers.filter((s) => s !== holder && !checked.has(s));
  await ctx.ensureTwoPhase([...toPrepare, ...unchecked].map((s) => s.clusterId));
  const preparedAt = performance.now();
  const results = await Promise.allSettled([
    ...toPrepare.map((s) => prepare(ctx, state, s)),
    // Readers not asked yet: asked now, alongside the PREPAREs; one that wrote after all is prepared too.
    ...unchecked.map(async (s) => ((await wroteAnything(s)) ? prepare(ctx, state, s) : commitReader(s))),
    ...readers.filter((s) => s !== holder && checked.has(s)).map(commitReader),
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

  if (holder) {
    await decideWithin(ctx, state, holder);
  } else {
    const decision = await decideApart(ctx, state);
    if (decision !== 'commit') throw ABORTED_BY_RECOVERY(state);
  }
  state.decided = true;
  try {
    await ctx.hooks?.afterDecision?.({ id: state.id, gids });
  } catch {
    /* test hook; the decision stands */
  }
  const pendingRecovery: string[] = [];
  await Promise.all(
    [...state.attempted].map(async ([clusterId, gid]) => {
      const s = sessions.find((x) => x.clusterId === clusterId)!;
      if (!(await commitPrepared(ctx, s, gid))) pendingRecovery.push(clusterId);
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
