import { PgmError } from '@pg-multiverse/core';
import { checkOptions } from './begin-sql.js';
import { commitAll, type ProtocolContext, releaseAll, rollbackAll } from './commit-protocol.js';
import { createDecisionLog } from './decision-log.js';
import { createEmitter, type TypedEmitter } from './emitter.js';
import { assertOwnerId, newTxid, toOwnerId } from './gid.js';
import { checkPreparedTransactions } from './preflight.js';
import { runRecovery } from './recovery.js';
import { cancelRunning, createTxHandle, newTxState, timeoutError } from './tx-state.js';
import type {
  RecoveryReport,
  TransactionCallback,
  TransactionEvents,
  TransactionManagerOptions,
  TransactionMetrics,
  TransactionOptions,
} from './types.js';

export interface TransactionManager extends TypedEmitter<TransactionEvents> {
  /** The owner id in our gids. */
  readonly ownerId: string;
  /** Cluster whose primary stores the commit decisions. */
  readonly coordinatorClusterId: string;
  /** Check max_prepared_transactions on these clusters (default: all) and create the decision table. */
  preflight(clusterIds?: string[]): Promise<void>;
  /** Run `fn` in one transaction over the clusters of `schemas`; atomic across clusters. Resolves with `fn`'s result. */
  withTransaction<T>(schemas: string[], fn: TransactionCallback<T>, options?: TransactionOptions): Promise<T>;
  /** Finish our in-doubt prepared transactions on every cluster. Never throws; see the report. */
  recover(): Promise<RecoveryReport>;
  /** `preflight()`, then `recover()`, then the recovery interval. */
  start(): Promise<RecoveryReport>;
  metrics(): TransactionMetrics;
  /** Stop the recovery timer; waits for running transactions and a running recovery. Idempotent. */
  close(): Promise<void>;
}

export function createTransactionManager(options: TransactionManagerOptions): TransactionManager {
  const firstCluster = () => {
    const ids = options.clusterIds();
    if (ids.length === 0) throw new PgmError('INVALID_CONFIG', 'tx: no clusters configured');
    return ids[0]!;
  };
  const coordinatorClusterId = options.coordinatorClusterId ?? firstCluster();
  const ownerId = options.ownerId ?? toOwnerId(coordinatorClusterId);
  assertOwnerId(ownerId);
  const safeAgeMs = options.safeAgeMs ?? 60_000;
  const retentionMs = options.decisionRetentionMs ?? Math.max(3_600_000, safeAgeMs * 10);
  const recoveryIntervalMs = options.recoveryIntervalMs ?? 30_000;
  const log = createDecisionLog(options.decisionSchema ?? 'pgm_tx', options.decisionTable ?? 'decisions');
  const { emitter, emit } = createEmitter<TransactionEvents>();

  const m: TransactionMetrics = {
    active: 0,
    started: 0,
    committed: 0,
    twoPhaseCommitted: 0,
    rolledBack: 0,
    timedOut: 0,
    recoveredCommitted: 0,
    recoveredRolledBack: 0,
    recoveryRuns: 0,
    prepared: {},
    oldestPreparedAgeMs: 0,
    lastRecoveryAt: undefined,
  };
  let closed = false;
  const running = new Set<Promise<unknown>>();

  // Preflight results are cached per cluster; a failure is not cached (the admin may fix it).
  const checked = new Map<string, Promise<unknown>>();
  const ensure = (key: string, fn: () => Promise<unknown>) => {
    let p = checked.get(key);
    if (!p) {
      p = fn();
      checked.set(key, p);
      p.catch(() => checked.delete(key));
    }
    return p;
  };
  const ensureCluster = (id: string) => ensure(`mpt:${id}`, () => checkPreparedTransactions(options.primary(id), id));
  const ensureTable = () => ensure('table', () => log.ensureTable(options.primary(coordinatorClusterId)));
  const ensureTwoPhase = async (ids: string[]) => {
    await Promise.all([...ids.map(ensureCluster), ensureTable()]);
  };

  const ctx: ProtocolContext = {
    ownerId,
    coordinatorClusterId,
    primary: (id) => options.primary(id),
    log,
    safeAgeMs,
    commitRetries: Math.max(1, options.commitRetries ?? 3),
    hooks: options.hooks,
    ensureTwoPhase,
  };

  let timer: NodeJS.Timeout | undefined;
  let recovering: Promise<RecoveryReport> | undefined;
  const startTimer = () => {
    if (timer || closed || recoveryIntervalMs <= 0) return;
    timer = setInterval(() => {
      if (!recovering) void manager.recover();
    }, recoveryIntervalMs);
    timer.unref();
  };

  async function run<T>(schemas: string[], fn: TransactionCallback<T>, txOptions: TransactionOptions): Promise<T> {
    if (closed) throw new PgmError('CLOSED', 'tx: the transaction manager is closed');
    if (!Array.isArray(schemas) || schemas.length === 0) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        'withTransaction needs at least one schema, e.g. withTransaction(["users"], fn)',
      );
    }
    if (typeof fn !== 'function') throw new PgmError('INVALID_ARGUMENT', 'withTransaction needs a callback');
    checkOptions(txOptions);
    const schemaCluster = new Map<string, string>();
    for (const schema of schemas) schemaCluster.set(schema, options.resolveCluster(schema));
    startTimer();

    const state = newTxState(newTxid(), schemaCluster, txOptions);
    const startedAt = performance.now();
    m.started++;
    m.active++;
    emit('transactionStarted', { id: state.id, schemas: state.schemas, options: txOptions });
    const tx = createTxHandle(state, {
      primary: options.primary,
      participantOf: options.participantOf,
      routeStatement: options.routeStatement?.bind(options),
      maxParticipants: options.maxParticipants,
      participants: options.clusterIds,
    });

    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      if (txOptions.timeoutMs === undefined) return;
      timer = setTimeout(() => {
        if (state.decided) return;
        state.timedOut = true;
        cancelRunning(state);
        reject(timeoutError(state));
      }, txOptions.timeoutMs);
    });
    timeout.catch(() => undefined);

    const rolledBack = async (err: unknown, reason: 'error' | 'timeout' | 'prepare_failed' | 'aborted_by_recovery') => {
      await rollbackAll(ctx, state);
      await releaseAll(state);
      m.rolledBack++;
      if (reason === 'timeout') m.timedOut++;
      emit('transactionRolledBack', {
        id: state.id,
        clusters: state.opened.map((s) => s.clusterId),
        durationMs: performance.now() - startedAt,
        reason,
        error: err,
      });
    };

    try {
      let result: T;
      try {
        const callback = Promise.resolve().then(() => fn(tx));
        callback.catch(() => undefined);
        result = await (txOptions.timeoutMs === undefined ? callback : Promise.race([callback, timeout]));
        if (state.timedOut) throw timeoutError(state);
      } catch (err) {
        // The callback's own error goes back to the caller; a rollback problem never masks it.
        const timedOut = state.timedOut;
        await rolledBack(err, timedOut ? 'timeout' : 'error');
        throw timedOut && !(err instanceof PgmError && err.code === 'TRANSACTION_TIMEOUT')
          ? timeoutError(state, err)
          : err;
      }

      let outcome: Awaited<ReturnType<typeof commitAll>>;
      try {
        outcome = await commitAll(ctx, state);
      } catch (err) {
        if (state.decided || (err instanceof PgmError && err.code === 'TRANSACTION_IN_DOUBT')) {
          // Not ours to roll back any more: recovery finishes it.
          await releaseAll(state);
          throw err;
        }
        const reason = state.timedOut
          ? 'timeout'
          : /rolled back by recovery/.test((err as Error).message)
            ? 'aborted_by_recovery'
            : 'prepare_failed';
        await rolledBack(err, reason);
        throw state.timedOut && !(err instanceof PgmError && err.code === 'TRANSACTION_TIMEOUT')
          ? timeoutError(state, err)
          : err;
      }
      await releaseAll(state);
      m.committed++;
      if (outcome.twoPhase) m.twoPhaseCommitted++;
      emit('transactionCommitted', {
        id: state.id,
        clusters: outcome.clusters,
        durationMs: performance.now() - startedAt,
        twoPhase: outcome.twoPhase,
        statements: state.statements,
        pendingRecovery: outcome.pendingRecovery,
      });
      return result;
    } finally {
      clearTimeout(timer);
      m.active--;
    }
  }

  const manager: TransactionManager = {
    ownerId,
    coordinatorClusterId,
    on(event, listener) {
      emitter.on(event, listener as (...a: unknown[]) => void);
      return manager;
    },
    once(event, listener) {
      emitter.once(event, listener as (...a: unknown[]) => void);
      return manager;
    },
    off(event, listener) {
      emitter.off(event, listener as (...a: unknown[]) => void);
      return manager;
    },
    async preflight(clusterIds) {
      if (closed) throw new PgmError('CLOSED', 'tx: the transaction manager is closed');
      startTimer();
      await ensureTwoPhase(clusterIds ?? options.clusterIds());
    },
    withTransaction(schemas, fn, txOptions = {}) {
      const p = run(schemas, fn, txOptions);
      running.add(p);
      const forget = () => running.delete(p);
      p.then(forget, forget);
      return p;
    },
    recover() {
      if (recovering) return recovering;
      startTimer();
      recovering = (async () => {
        try {
          const report = await runRecovery({
            ownerId,
            coordinatorClusterId,
            clusterIds: options.clusterIds(),
            primary: options.primary,
            log,
            safeAgeMs,
            retentionMs,
            emit,
          });
          m.recoveryRuns++;
          m.lastRecoveryAt = Date.now();
          m.recoveredCommitted += report.committed;
          m.recoveredRolledBack += report.rolledBack;
          if (report.ran) {
            const prepared: TransactionMetrics['prepared'] = {};
            for (const t of report.transactions) {
              if (t.action !== 'wait' && t.action !== 'failed') continue;
              const p = (prepared[t.clusterId] ??= { count: 0, oldestAgeMs: 0 });
              p.count++;
              p.oldestAgeMs = Math.max(p.oldestAgeMs, t.ageMs);
            }
            m.prepared = prepared;
            m.oldestPreparedAgeMs = Math.max(0, ...Object.values(prepared).map((p) => p.oldestAgeMs));
          }
          return report;
        } finally {
          recovering = undefined;
        }
      })();
      return recovering;
    },
    async start() {
      await manager.preflight();
      return manager.recover();
    },
    metrics() {
      return { ...m, prepared: { ...m.prepared } };
    },
    async close() {
      if (closed) return;
      closed = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await Promise.allSettled([...running, ...(recovering ? [recovering] : [])]);
    },
  };
  return manager;
}
