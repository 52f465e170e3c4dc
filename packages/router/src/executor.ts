// Node 20's global `performance` is a lazy accessor: every `performance.now()` through it calls a getter
// first. Imported, it is a plain binding (three clock reads per statement here).
import { performance } from 'node:perf_hooks';
import {
  CAPTURE_LSN_SQL,
  type PgmError,
  PgmError as PgmErrorClass,
  type QueryResult,
  type ResultOrigin,
  recordLatency,
  runStatement,
  type SessionPosition,
  type SessionRequirements,
  type SessionRun,
  type StatementShape,
} from '@pg-multiverse/core';
import { createCrossShardReader } from './cross-shard/read.js';
import { crossShardRefusal, crossShardWriteRefusal } from './cross-shard/refusal.js';
import type { HealthMonitor } from './health-monitor.js';
import { formatLsn, parseLsn } from './lsn.js';
import { isConnectionError, isRetryableRead, sqlStateOf, wrapQueryError } from './pg-errors.js';
import { type Plan, withRequest } from './planner.js';
import { RoutedQueryResult } from './routed-result.js';
import { chooseRead, type ReadChoice, type ReadRequest, writablePrimary } from './select-node.js';
import { advanceToken, type SessionToken, UNKNOWN_POSITION } from './session-token.js';
import { currentStatementContext } from './statement-context.js';
import type { ClusterRuntime, GroupRuntime, NodeRuntime } from './topology.js';
import type { QueryExecutedEvent, RoutedResult, RouteInfo, RouteReason, RouterEvents } from './types.js';

export interface ExecutorContext {
  emitter: { listenerCount(event: string): number; emit(event: string, ...args: unknown[]): boolean };
  emit: <K extends keyof RouterEvents>(event: K, ...args: RouterEvents[K]) => void;
  secrets: readonly string[];
  monitor: () => HealthMonitor;
  kindOf: (sql: string) => 'read' | 'write';
  /** The partition filter of a shard holding stray rows (`router.partitionFilter`), else undefined. */
  strayFilter: (clusterId: string, shardId: string) => string | undefined;
}

export interface Executor {
  /** Run a plan: writes on the primary; reads on the chosen node, retried once elsewhere on a retryable failure. */
  execute<R>(plan: Plan, params: readonly unknown[] | undefined, shape?: StatementShape): Promise<RoutedResult<R>>;
  /** A statement on a lent primary session settled (see statement-context.ts). */
  observeSession(g: GroupRuntime, node: NodeRuntime, sql: string, t0: number, err: unknown): void;
  /** Record a committed write's position in `token` (the primary's current one when `lsn` is not given). */
  noteWrite(groups: readonly GroupRuntime[], token: SessionToken, lsn: bigint | undefined): Promise<bigint | undefined>;
}

/**
 * Executes plans. The hot path (a read on a warm client) is a promise chain,
 * not an async function: a suspended async frame keeps its whole register
 * file and was the largest allocation of a query (measured); the async
 * functions here run only for writes, session fallbacks and retries.
 */
export function createExecutor(ctx: ExecutorContext): Executor {
  const { emitter, emit, secrets } = ctx;

  /**
   * One statement on one node, recording its latency (core's recordLatency, the one tracker) and
   * telling the balancer. `t0`: when it was sent (`performance.now()`; a statement's first attempt
   * shares the clock reading its route starts from).
   */
  function run<R>(
    c: ClusterRuntime,
    node: NodeRuntime,
    sql: string,
    params: readonly unknown[] | undefined,
    ro: SessionRequirements,
    shape: StatementShape | undefined,
    t0: number,
  ): Promise<SessionRun<R>> {
    const st = node.state;
    st.inFlight++;
    const done = (ok: boolean) => {
      const t1 = performance.now();
      const ms = t1 - t0;
      st.inFlight--;
      recordLatency(st, ms, ok, t1);
      node.queries++;
      node.totalTimeMs += ms;
      if (!ok) node.errors++;
      c.balancer.observe?.(st, ms, ok);
    };
    return runStatement<R>(node.provider, sql, params, ro, done, shape);
  }

  function noteFailure(g: GroupRuntime, node: NodeRuntime, err: unknown): void {
    if (isConnectionError(err)) {
      // Suspect (no reads) until a probe says otherwise; the monitor probes it now and marks it down if refused.
      node.state.healthy = false;
      ctx.monitor().confirm(g, node);
    } else if (sqlStateOf(err) === '25006') {
      ctx.monitor().kick(g);
    }
  }

  function routeOf(
    g: GroupRuntime,
    node: NodeRuntime,
    reason: RouteReason,
    kind: 'read' | 'write',
    t0: number,
    retried: boolean,
  ): RouteInfo {
    const route: RouteInfo = {
      clusterId: g.clusterId,
      nodeId: node.id,
      role: node.state.role,
      reason,
      kind,
      durationMs: performance.now() - t0,
      retried,
    };
    if (g.shardId) route.shardId = g.shardId;
    return route;
  }

  function buildExecuted(
    route: RouteInfo,
    sql: string,
    schema: string | undefined,
    ok: boolean,
    err?: unknown,
  ): QueryExecutedEvent {
    const code = err
      ? (sqlStateOf(err) ?? sqlStateOf((err as { cause?: unknown }).cause) ?? (err as PgmError).code)
      : undefined;
    // Built without spreads: each `...(cond ? { k } : {})` allocates a throwaway object.
    const e: QueryExecutedEvent = {
      clusterId: route.clusterId,
      nodeId: route.nodeId,
      role: route.role,
      reason: route.reason,
      kind: route.kind,
      durationMs: route.durationMs,
      duration: route.durationMs,
      ok,
      retried: route.retried,
      sql,
    };
    if (route.shardId) e.shardId = route.shardId;
    if (route.shardIds) {
      e.shardIds = route.shardIds;
      if (route.nodeIds) e.nodeIds = route.nodeIds;
      if (route.partial) e.partial = true;
    }
    if (schema !== undefined) e.schema = schema;
    if (code) e.errorCode = code;
    return e;
  }

  function emitExecuted(route: RouteInfo, sql: string, schema: string | undefined, ok: boolean, err?: unknown) {
    if (emitter.listenerCount('queryExecuted') === 0) return;
    emitter.emit('queryExecuted', buildExecuted(route, sql, schema, ok, err));
  }

  function finish<R>(res: QueryResult<R>, route: RouteInfo, p: Plan): RoutedResult<R> {
    if (!p.quiet) emitExecuted(route, p.sql, p.schema, true);
    return new RoutedQueryResult(res, route) as unknown as RoutedResult<R>;
  }

  /** A statement failed for good on `node`: report it and return the error to throw. */
  function failed(node: NodeRuntime, err: unknown, route: RouteInfo, p: Plan): PgmError {
    const wrapped = wrapQueryError(err, p.g.clusterId, node.id, secrets);
    if (!p.quiet) emitExecuted(route, p.sql, p.schema, false, wrapped);
    return wrapped;
  }

  /** Where a result read on `node` came from, by what the session itself reported. */
  function originOf(node: NodeRuntime, pos: SessionPosition): ResultOrigin {
    const origin: ResultOrigin = { role: pos.inRecovery ? 'replica' : 'primary' };
    if (pos.lsn !== undefined) origin.lsn = formatLsn(pos.lsn);
    if (!pos.inRecovery) origin.lagMs = 0;
    else if (node.lagKnown) origin.lagMs = node.state.lagMs;
    return origin;
  }

  async function runWrite<R>(
    p: Plan,
    params: readonly unknown[] | undefined,
    t0: number,
    shape: StatementShape | undefined,
  ): Promise<RoutedResult<R>> {
    const g = p.g;
    const node = writablePrimary(g);
    try {
      const ro = p.token ? { ...p.run, captureLsn: true } : p.run;
      const out = await run<R>(p.cluster, node, p.sql, params, ro, shape, t0);
      if (p.token && out.lsn !== undefined) advanceToken(p.token, g.key, out.lsn);
      else if (p.token && out.lsnError !== undefined) {
        // Committed, position unknown: the session's next read here asks the primary first.
        noteFailure(g, node, out.lsnError);
        p.token.positions.set(g.key, UNKNOWN_POSITION);
      }
      return finish(out.result!, routeOf(g, node, 'write', 'write', t0, false), p);
    } catch (err) {
      noteFailure(g, node, err);
      throw failed(node, err, routeOf(g, node, 'write', 'write', t0, false), p);
    }
  }

  /**
   * One read attempt on `choice`, retried once on another node after a retryable failure. `sentAt`:
   * when the first attempt goes out (default `t0`, the start of the route).
   */
  function runRead<R>(
    p: Plan,
    req: ReadRequest,
    params: readonly unknown[] | undefined,
    t0: number,
    choice: ReadChoice | undefined,
    retried: boolean,
    shape: StatementShape | undefined,
    sentAt: number = t0,
  ): Promise<RoutedResult<R>> {
    const c = p.cluster;
    const g = p.g;
    if (!choice) {
      return Promise.reject(
        new PgmErrorClass('NO_AVAILABLE_NODE', `No node of cluster "${c.id}" can serve this read`, {
          clusterId: c.id,
        }),
      );
    }
    if (choice.fallback) {
      if (!g.fallbackActive) {
        g.fallbackActive = true;
        emit('readFallback', { clusterId: c.id, reason: choice.fallback, nodeId: choice.node.id });
      }
    } else if (choice.node !== g.primary) g.fallbackActive = false;
    const node = choice.node;
    const requireLsn = choice.requireLsn;
    const ro = requireLsn !== undefined ? { ...p.run, requireReplayLsn: requireLsn } : p.run;
    return run<R>(c, node, p.sql, params, ro, shape, retried ? performance.now() : sentAt).then(
      (out) => {
        if (out.result === undefined) return readOnPrimary<R>(p, node, out.lsn, params, t0, retried, shape);
        if (requireLsn !== undefined && (node.lsn === undefined || node.lsn < requireLsn)) node.lsn = requireLsn;
        const route = routeOf(g, node, retried ? 'retry' : choice.reason, 'read', t0, retried);
        if (out.position) route.origin = originOf(node, out.position);
        return finish(out.result, route, p);
      },
      (err) => {
        noteFailure(g, node, err);
        if (!retried && isRetryableRead(err)) {
          const again = withRequest(req, { exclude: node });
          const next = chooseRead(c, g, again);
          if (next && next.node !== node) {
            const errorCode = sqlStateOf(err);
            emit('queryRetried', {
              clusterId: c.id,
              fromNode: node.id,
              toNode: next.node.id,
              ...(errorCode ? { errorCode } : {}),
            });
            return runRead<R>(p, again, params, t0, next, true, shape);
          }
        }
        throw failed(node, err, routeOf(g, node, choice.reason, 'read', t0, retried), p);
      },
    );
  }

  /** The replica has not replayed the caller's last write yet: the primary answers. */
  async function readOnPrimary<R>(
    p: Plan,
    replica: NodeRuntime,
    seenLsn: bigint | undefined,
    params: readonly unknown[] | undefined,
    t0: number,
    retried: boolean,
    shape: StatementShape | undefined,
  ): Promise<RoutedResult<R>> {
    if (seenLsn !== undefined && (replica.lsn === undefined || seenLsn > replica.lsn)) replica.lsn = seenLsn;
    const g = p.g;
    const served = g.primary;
    try {
      const out = await run<R>(p.cluster, served, p.sql, params, p.run, shape, performance.now());
      const route = routeOf(g, served, 'session-primary', 'read', t0, retried);
      if (out.position) route.origin = originOf(served, out.position);
      return finish(out.result!, route, p);
    } catch (err) {
      noteFailure(g, served, err);
      throw failed(served, err, routeOf(g, served, 'session-primary', 'read', t0, retried), p);
    }
  }

  /** The WAL insert position of `node` now: it includes every write acknowledged before. */
  async function currentPosition(node: NodeRuntime): Promise<bigint> {
    return parseLsnStrict((await node.provider.query<{ l: string }>(CAPTURE_LSN_SQL)).rows[0]?.l);
  }

  /** Replace an unknown session position on `g` by the primary's current one (which includes the write). */
  async function learnPosition(g: GroupRuntime, token: SessionToken): Promise<void> {
    const node = writablePrimary(g);
    let lsn: bigint;
    try {
      lsn = await currentPosition(node);
    } catch (err) {
      noteFailure(g, node, err);
      throw err instanceof PgmErrorClass ? err : wrapQueryError(err, g.clusterId, node.id, secrets);
    }
    if (token.positions.get(g.key) === UNKNOWN_POSITION) token.positions.set(g.key, lsn);
  }

  /** Run the group's holds (once at a time, shared); each one that succeeds is removed. */
  function settleHolds(g: GroupRuntime): Promise<void> {
    if (g.holding) return g.holding;
    const run: Promise<void> = Promise.resolve()
      .then(async () => {
        while (g.holds && g.holds.length > 0) {
          await g.holds[0]!();
          g.holds.shift();
        }
        delete g.holds;
      })
      .catch((err: unknown) => {
        throw new PgmErrorClass(
          'NO_AVAILABLE_NODE',
          `Cluster "${g.clusterId}"${g.shardId ? ` shard ${g.shardId}` : ''} has work that must finish before statements run there (e.g. a committed transaction not visible yet), and it failed: ${(err as Error)?.message ?? String(err)}`,
          { clusterId: g.clusterId, cause: err },
        );
      })
      .finally(() => {
        if (g.holding === run) g.holding = undefined;
      });
    g.holding = run;
    return run;
  }

  function execute<R>(
    p: Plan,
    params: readonly unknown[] | undefined,
    shape?: StatementShape,
  ): Promise<RoutedResult<R>> {
    if (p.groups.length > 1) {
      // Cross-shard: the statement concerns several shards (see cross-shard/).
      if (shape !== undefined) {
        return Promise.reject(
          crossShardRefusal(
            p,
            'a result shape (rowMode, types, name)',
            'the merge builds rows as objects with the default type parsers',
          ),
        );
      }
      if (p.kind === 'read') return crossShardRead<R>(p, params);
      return Promise.reject(crossShardWriteRefusal(p));
    }
    if (p.g.holds !== undefined) return settleHolds(p.g).then(() => execute<R>(p, params, shape));
    const t0 = performance.now();
    if (p.kind === 'write') return runWrite<R>(p, params, t0, shape);
    if (p.sessionLsn === UNKNOWN_POSITION) {
      // A write of this session committed without a known position: learn a conservative one, then read.
      return learnPosition(p.g, p.token!).then(() => {
        const again = withRequest(p, { sessionLsn: p.token!.positions.get(p.g.key) });
        return runRead<R>(p, again, params, t0, chooseRead(p.cluster, p.g, again), false, shape, performance.now());
      });
    }
    return runRead<R>(p, p, params, t0, chooseRead(p.cluster, p.g, p), false, shape);
  }

  const crossShardRead = createCrossShardReader({ execute, emitExecuted, strayFilter: ctx.strayFilter });

  return {
    execute,
    observeSession(g, node, sql, t0, err) {
      if (err !== undefined) noteFailure(g, node, err);
      if (emitter.listenerCount('queryExecuted') === 0) return;
      const route = routeOf(g, node, 'session', ctx.kindOf(sql), t0, false);
      const e = buildExecuted(route, sql, undefined, err === undefined, err);
      const sc = currentStatementContext();
      if (sc?.transactionId !== undefined) e.transactionId = sc.transactionId;
      emitter.emit('queryExecuted', e);
    },
    async noteWrite(groups, token, lsn) {
      if (lsn !== undefined) {
        for (const g of groups) advanceToken(token, g.key, lsn);
        return lsn;
      }
      // Every group's primary at once (a sharded cluster without a shard key: each shard).
      const seen = await Promise.all(
        groups.map(async (g) => {
          try {
            const at = await currentPosition(g.primary);
            advanceToken(token, g.key, at);
            return at;
          } catch (err) {
            // The write is committed; only its position is unknown. Never fail the caller for it:
            // the session's next read there asks the primary first (see UNKNOWN_POSITION).
            noteFailure(g, g.primary, err);
            token.positions.set(g.key, UNKNOWN_POSITION);
            return undefined;
          }
        }),
      );
      return seen[seen.length - 1];
    },
  };
}

export function parseLsnStrict(text: string | undefined): bigint {
  const v = parseLsn(text);
  if (v === undefined) {
    throw new PgmErrorClass('INVALID_ARGUMENT', `Not a WAL position (X/Y): ${JSON.stringify(text)}`);
  }
  return v;
}
