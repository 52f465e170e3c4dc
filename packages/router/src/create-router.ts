import { EventEmitter } from 'node:events';
import { createBalancer } from '@pg-multiverse/balancer';
import type {
  ClusterConfiguration,
  ConnectionProvider,
  Freshness,
  NodeConfig,
  PoolStats,
  ResultOrigin,
  SchemaOptions,
} from '@pg-multiverse/core';
import {
  ANY_FRESHNESS,
  collectSecrets,
  PgmError,
  quoteIdent,
  redactSecrets,
  validateConfiguration,
} from '@pg-multiverse/core';
import { createSqlClassifier } from './classify-sql.js';
import { createHealthMonitor, monitorSettings } from './health-monitor.js';
import { formatLsn, parseLsn } from './lsn.js';
import type { RunOptions, RunOutcome, SeenPosition } from './node-executor.js';
import { isConnectionError, isRetryableRead, sqlStateOf, wrapQueryError } from './pg-errors.js';
import { RoutedQueryResult } from './routed-result.js';
import { chooseRead, type ReadChoice, type ReadRequest, writablePrimary } from './select-node.js';
import {
  advanceToken,
  createSessionToken,
  currentSession,
  runWithSessionToken,
  type SessionToken,
  UNKNOWN_POSITION,
} from './session-token.js';
import { chooseShard } from './shard.js';
import { currentStatementContext } from './statement-context.js';
import { buildCluster, type ClusterRuntime, type GroupRuntime, type NodeRuntime } from './topology.js';
import type {
  ClusterHealth,
  NodeSnapshot,
  QueryExecutedEvent,
  ReadTarget,
  RoutedResult,
  RouteInfo,
  RouteOptions,
  RouterEvents,
  RouterOptions,
  SchemaEntry,
} from './types.js';

type Listener<K extends keyof RouterEvents> = (...args: RouterEvents[K]) => void;

/** The router: see README.md for the full contract. */
export interface Router {
  /** Validated configuration with defaults applied. */
  readonly config: ReturnType<typeof validateConfiguration>;
  /** Probe every node once, warm pools (`warmupConnections`), start the background monitor. */
  start(): Promise<void>;
  /** Run one statement on the right cluster and node. The result carries a non-enumerable `route`. */
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: RouteOptions,
  ): Promise<RoutedResult<R>>;
  /** Cluster id for a schema (or the default cluster). */
  resolveCluster(schema?: string, shardKey?: unknown): string;
  /**
   * Where a read with these options would run (cluster, shard group) and the
   * freshness a result read elsewhere must have to answer it: the rule the
   * facade's cache applies to entries (see `Freshness` in core).
   */
  readTarget(options?: RouteOptions): ReadTarget;
  /** The current primary of a cluster (or of the shard holding `shardKey`), following failover. */
  primary(clusterId: string, shardKey?: unknown): ConnectionProvider;
  /** The current primary of every shard of a cluster (one entry for unsharded clusters). */
  primaries(clusterId: string): ConnectionProvider[];
  /** The current primary of one listed shard (`sharding.shards[i].id`, default `shard-<i>`). */
  shardPrimary(clusterId: string, shardId: string): ConnectionProvider;
  /** Partition and shard id of a shard key on a sharded cluster. */
  shardFor(clusterId: string, shardKey: unknown): { partition: number; shardId?: string };
  registerSchema(schema: string, clusterId: string, options?: SchemaOptions): void;
  /** schema -> cluster id. */
  schemas(): Record<string, string>;
  /** Options of a schema (from the config or `registerSchema`). */
  schemaOptions(schema: string): SchemaEntry | undefined;
  clusterIds(): string[];
  healthCheck(): Promise<Record<string, ClusterHealth>>;
  nodeStates(): NodeSnapshot[];
  poolStats(): Record<string, PoolStats>;
  /** A new, empty read-your-writes token. */
  createSessionToken(): SessionToken;
  /** Alias of `createSessionToken`. */
  createSession(): SessionToken;
  /** Run `fn` with a session token in scope (a new one when omitted); queries inside read their own writes. */
  runWithSession<T>(fn: () => T): T;
  runWithSession<T>(token: SessionToken, fn: () => T): T;
  /** The session token in scope, if any. */
  currentSession(): SessionToken | undefined;
  /**
   * Record a committed write on `clusterId` in `token` (default: the one in scope).
   * Without `lsn` reads the primary's current WAL position. Resolves to the LSN recorded, if any.
   */
  noteWrite(
    clusterId: string,
    lsn?: string | bigint,
    token?: SessionToken,
    shardKey?: unknown,
  ): Promise<bigint | undefined>;
  on<K extends keyof RouterEvents>(event: K, listener: Listener<K>): Router;
  once<K extends keyof RouterEvents>(event: K, listener: Listener<K>): Router;
  off<K extends keyof RouterEvents>(event: K, listener: Listener<K>): Router;
  /** Stop the monitor and end every pool the router opened. Idempotent. */
  close(): Promise<void>;
}

const EWMA_ALPHA = 0.2;
const NO_SCHEMA: RunOptions = Object.freeze({});
const PRIMARY_FRESHNESS: Freshness = Object.freeze({ level: 'primary' });

/** Build a router over a cluster configuration. Call `start()` before use (queries also work before it, unmonitored). */
export function createRouter(config: ClusterConfiguration, options: RouterOptions = {}): Router {
  const normalized = validateConfiguration(config, {
    ...(options.connectionPool ? { connectionPool: options.connectionPool } : {}),
    ...(options.loadBalancing ? { loadBalancing: options.loadBalancing } : {}),
  });
  const allNodes: NodeConfig[] = [];
  for (const c of Object.values(config)) {
    allNodes.push(c.primary, ...(c.replicas ?? []));
    for (const s of c.sharding?.shards ?? []) allNodes.push(s.primary, ...(s.replicas ?? []));
  }
  const secrets = [...collectSecrets(allNodes), ...(options.secrets ?? [])];
  const settings = monitorSettings(options.monitor);
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const emit = <K extends keyof RouterEvents>(event: K, ...args: RouterEvents[K]) => {
    if (emitter.listenerCount(event) > 0) emitter.emit(event, ...args);
  };

  const clusters = new Map<string, ClusterRuntime>();
  for (const cfg of Object.values(normalized.clusters)) {
    const strategy = cfg.loadBalancing.strategy ?? 'round_robin';
    const balancer = createBalancer(strategy, cfg.loadBalancing);
    clusters.set(
      cfg.id,
      buildCluster(cfg, balancer, {
        providers: options.providers,
        onIdleError: (n, error) =>
          emit('poolError', { clusterId: n.clusterId, nodeId: n.nodeId, error: redactErr(error) }),
        guardPrimary: (g) => void writablePrimary(g),
        observe: (g, node, sql, t0, err) => observeSession(g, node, sql, t0, err),
      }),
    );
  }
  if (options.defaultCluster !== undefined && !clusters.has(options.defaultCluster)) {
    throw unknownCluster(options.defaultCluster);
  }

  const onlyCluster = clusters.size === 1 ? [...clusters.keys()][0] : undefined;
  const schemaMap = new Map<string, SchemaEntry>();
  for (const [schema, clusterId] of Object.entries(normalized.schemaToCluster)) schemaMap.set(schema, { clusterId });

  const monitor = createHealthMonitor(() => clusters.values(), settings, emit, secrets);
  const searchPaths = new Map<string, RunOptions>();
  const kinds = new Map<string, 'read' | 'write'>();
  const classifier = createSqlClassifier(options.writeFunctions ? { writeFunctions: options.writeFunctions } : {});
  let closed = false;

  function redactErr(e: Error): Error {
    e.message = redactSecrets(e.message, secrets);
    return e;
  }

  function unknownCluster(id: string): PgmError {
    return new PgmError(
      'UNKNOWN_CLUSTER',
      `Unknown cluster "${id}". Known clusters: ${[...clusters.keys()].join(', ') || '(none)'}`,
      { clusterId: id },
    );
  }

  function clusterById(id: string): ClusterRuntime {
    const c = clusters.get(id);
    if (!c) throw unknownCluster(id);
    return c;
  }

  function resolveCluster(schema?: string, shardKey?: unknown): string {
    if (schema !== undefined) {
      const e = schemaMap.get(schema);
      if (!e) {
        throw new PgmError(
          'UNKNOWN_SCHEMA',
          `Unknown schema "${schema}". Known schemas: ${[...schemaMap.keys()].sort().join(', ') || '(none)'}; register it with registerSchema(schema, clusterId)`,
          { schema },
        );
      }
      return e.clusterId;
    }
    if (options.defaultCluster !== undefined) return options.defaultCluster;
    if (onlyCluster !== undefined) return onlyCluster;
    if (shardKey !== undefined) {
      const sharded = [...clusters.values()].filter((c) => c.cfg.sharding);
      if (sharded.length === 1) return sharded[0]!.id;
    }
    throw new PgmError(
      'UNKNOWN_SCHEMA',
      `No schema given and no default cluster among ${clusters.size} clusters (${[...clusters.keys()].join(', ')}); pass { schema } (known: ${[...schemaMap.keys()].sort().join(', ')})`,
    );
  }

  /** Run options per schema, built once: `"schema", public` as search_path. */
  function runOptionsFor(schema: string | undefined): RunOptions {
    if (schema === undefined) return NO_SCHEMA;
    let ro = searchPaths.get(schema);
    if (ro === undefined) {
      ro = { searchPath: schema === 'public' ? quoteIdent(schema) : `${quoteIdent(schema)}, public` };
      if (searchPaths.size > 10_000) searchPaths.clear();
      searchPaths.set(schema, ro);
    }
    return ro;
  }

  function kindOf(sql: string): 'read' | 'write' {
    let k = kinds.get(sql);
    if (k === undefined) {
      k = classifier.classify(sql);
      if (kinds.size > 5_000) kinds.clear();
      kinds.set(sql, k);
    }
    return k;
  }

  function execute<R>(
    c: ClusterRuntime,
    node: NodeRuntime,
    sql: string,
    params: readonly unknown[] | undefined,
    run: RunOptions,
  ): Promise<RunOutcome<R>> {
    const st = node.state;
    st.inFlight++;
    const t0 = performance.now();
    const done = (ok: boolean) => {
      const t1 = performance.now();
      const ms = t1 - t0;
      st.inFlight--;
      st.ewmaLatencyMs = st.lastSampleAt === 0 ? ms : st.ewmaLatencyMs + EWMA_ALPHA * (ms - st.ewmaLatencyMs);
      st.lastSampleAt = t1;
      node.queries++;
      node.totalTimeMs += ms;
      if (!ok) node.errors++;
      c.balancer.observe?.(st, ms, ok);
    };
    return node.exec.run<R>(sql, params, run, done);
  }

  function noteFailure(g: GroupRuntime, node: NodeRuntime, err: unknown): void {
    if (isConnectionError(err)) {
      // Suspect (no reads) until a probe says otherwise; the monitor probes it now and marks it down if refused.
      node.state.healthy = false;
      monitor.confirm(g, node);
    } else if (sqlStateOf(err) === '25006') {
      monitor.kick(g);
    }
  }

  function finish<R>(
    res: import('@pg-multiverse/core').QueryResult<R>,
    route: RouteInfo,
    sql: string,
    schema: string | undefined,
  ): RoutedResult<R> {
    emitExecuted(route, sql, schema, true);
    return new RoutedQueryResult(res, route) as unknown as RoutedResult<R>;
  }

  /** A statement failed for good on `node`: report it and return the error to throw. */
  function failed(
    g: GroupRuntime,
    node: NodeRuntime,
    err: unknown,
    route: RouteInfo,
    sql: string,
    schema: string | undefined,
  ): PgmError {
    const wrapped = wrapQueryError(err, g.clusterId, node.id, secrets);
    emitExecuted(route, sql, schema, false, wrapped);
    return wrapped;
  }

  function emitExecuted(route: RouteInfo, sql: string, schema: string | undefined, ok: boolean, err?: unknown) {
    if (emitter.listenerCount('queryExecuted') === 0) return;
    emitter.emit('queryExecuted', buildExecuted(route, sql, schema, ok, err));
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
    if (schema !== undefined) e.schema = schema;
    if (code) e.errorCode = code;
    return e;
  }

  /** A statement on a lent primary session (transactions, migrations) settled: observed like a routed one. */
  function observeSession(g: GroupRuntime, node: NodeRuntime, sql: string, t0: number, err: unknown): void {
    if (err !== undefined) noteFailure(g, node, err);
    if (emitter.listenerCount('queryExecuted') === 0) return;
    const route = routeOf(g, node, 'session', kindOf(sql), t0, false);
    const e = buildExecuted(route, sql, undefined, err === undefined, err);
    const ctx = currentStatementContext();
    if (ctx?.transactionId !== undefined) e.transactionId = ctx.transactionId;
    emitter.emit('queryExecuted', e);
  }

  function routeOf(
    g: GroupRuntime,
    node: NodeRuntime,
    reason: RouteInfo['reason'],
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

  /**
   * Plans synchronously, then hands over to a small async runner: a suspended
   * async function keeps its whole register file, so one big async `query`
   * cost ~1.5 KB of garbage per call (measured); the runners keep only what
   * they need. Errors of the planning still reject the returned promise.
   */
  function query<R>(sql: string, params?: readonly unknown[], o: RouteOptions = {}): Promise<RoutedResult<R>> {
    try {
      if (closed) throw new PgmError('CLOSED', 'The router is closed');
      if (typeof sql !== 'string' || sql.length === 0) {
        throw new PgmError('INVALID_ARGUMENT', 'query(sql): sql must be a non-empty string');
      }
      const t0 = performance.now();
      const kind = o.kind ?? kindOf(sql);
      let clusterId: string;
      if (o.clusterId !== undefined) {
        clusterId = clusterById(o.clusterId).id;
        if (o.schema !== undefined && resolveCluster(o.schema) !== clusterId) {
          throw new PgmError(
            'INVALID_ARGUMENT',
            `Schema "${o.schema}" belongs to cluster "${resolveCluster(o.schema)}", not "${clusterId}"`,
            { schema: o.schema, clusterId },
          );
        }
      } else clusterId = resolveCluster(o.schema, o.shardKey);
      const c = clusters.get(clusterId)!;
      const g = c.cfg.sharding ? chooseShard(c, o.shardKey).group : c.groups[0]!;
      const token = o.sessionToken ?? currentSession();

      if (kind === 'write') return runWrite<R>(c, g, sql, params, o.schema, token, runOptionsFor(o.schema), t0);
      const runBase = o.readOrigin ? { ...runOptionsFor(o.schema), readPosition: true } : runOptionsFor(o.schema);

      const entry = o.schema !== undefined ? schemaMap.get(o.schema) : undefined;
      const consistency = o.consistency ?? entry?.consistencyLevel ?? c.cfg.consistencyLevel;
      if (o.role === 'replica' && o.consistency === 'strong') {
        throw new PgmError(
          'INVALID_ARGUMENT',
          "{ role: 'replica' } contradicts { consistency: 'strong' } (primary only)",
        );
      }
      const sessionLsn = consistency === 'session' ? token?.positions.get(g.key) : undefined;
      if (sessionLsn === UNKNOWN_POSITION) {
        // A write of this session committed without a known position: learn a conservative one first.
        return learnPosition(g, token!).then(() => query<R>(sql, params, o));
      }
      const req: ReadRequest = {
        role: o.role,
        consistency,
        readPreference: entry?.readPreference ?? c.cfg.readPreference,
        maxLagMs: o.maxLagMs ?? c.cfg.maxLagMs,
        sessionLsn,
        exclude: undefined,
        fallbackToPrimary: settings.fallbackToPrimary,
      };
      return runRead<R>(c, g, sql, params, o.schema, req, runBase, t0, chooseRead(c, g, req), false);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  async function runWrite<R>(
    c: ClusterRuntime,
    g: GroupRuntime,
    sql: string,
    params: readonly unknown[] | undefined,
    schema: string | undefined,
    token: SessionToken | undefined,
    runBase: RunOptions,
    t0: number,
  ): Promise<RoutedResult<R>> {
    const node = writablePrimary(g);
    try {
      const out = await execute<R>(c, node, sql, params, token ? { ...runBase, captureLsn: true } : runBase);
      if (token && out.lsn !== undefined) advanceToken(token, g.key, out.lsn);
      return finish(out.result!, routeOf(g, node, 'write', 'write', t0, false), sql, schema);
    } catch (err) {
      noteFailure(g, node, err);
      throw failed(g, node, err, routeOf(g, node, 'write', 'write', t0, false), sql, schema);
    }
  }

  /**
   * One read attempt on `choice`, retried once on another node after a
   * retryable failure. A promise chain, not an async function: reads are the
   * hot path, and a suspended async frame is the larger allocation.
   */
  function runRead<R>(
    c: ClusterRuntime,
    g: GroupRuntime,
    sql: string,
    params: readonly unknown[] | undefined,
    schema: string | undefined,
    req: ReadRequest,
    runBase: RunOptions,
    t0: number,
    choice: ReadChoice | undefined,
    retried: boolean,
  ): Promise<RoutedResult<R>> {
    if (!choice) {
      return Promise.reject(
        new PgmError('NO_AVAILABLE_NODE', `No node of cluster "${c.id}" can serve this read`, { clusterId: c.id }),
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
    const run = requireLsn !== undefined ? { ...runBase, requireReplayLsn: requireLsn } : runBase;
    return execute<R>(c, node, sql, params, run).then(
      (out) => {
        if (out.result === undefined)
          return readOnPrimary<R>(c, g, node, out.lsn, sql, params, schema, runBase, t0, retried);
        if (requireLsn !== undefined && (node.lsn === undefined || node.lsn < requireLsn)) node.lsn = requireLsn;
        const route = routeOf(g, node, retried ? 'retry' : choice.reason, 'read', t0, retried);
        if (out.position) route.origin = originOf(node, out.position);
        return finish(out.result, route, sql, schema);
      },
      (err) => {
        noteFailure(g, node, err);
        if (!retried && isRetryableRead(err)) {
          const next = chooseRead(c, g, { ...req, exclude: node });
          if (next && next.node !== node) {
            emit('queryRetried', {
              clusterId: c.id,
              fromNode: node.id,
              toNode: next.node.id,
              ...(sqlStateOf(err) ? { errorCode: sqlStateOf(err)! } : {}),
            });
            return runRead<R>(c, g, sql, params, schema, req, runBase, t0, next, true);
          }
        }
        throw failed(g, node, err, routeOf(g, node, choice.reason, 'read', t0, retried), sql, schema);
      },
    );
  }

  /** The replica has not replayed the caller's last write yet: the primary answers. */
  async function readOnPrimary<R>(
    c: ClusterRuntime,
    g: GroupRuntime,
    replica: NodeRuntime,
    seenLsn: bigint | undefined,
    sql: string,
    params: readonly unknown[] | undefined,
    schema: string | undefined,
    runBase: RunOptions,
    t0: number,
    retried: boolean,
  ): Promise<RoutedResult<R>> {
    if (seenLsn !== undefined && (replica.lsn === undefined || seenLsn > replica.lsn)) replica.lsn = seenLsn;
    const served = g.primary;
    try {
      const out = await execute<R>(c, served, sql, params, runBase);
      const route = routeOf(g, served, 'session-primary', 'read', t0, retried);
      if (out.position) route.origin = originOf(served, out.position);
      return finish(out.result!, route, sql, schema);
    } catch (err) {
      noteFailure(g, served, err);
      throw failed(g, served, err, routeOf(g, served, 'session-primary', 'read', t0, retried), sql, schema);
    }
  }

  /** Where a result read on `node` came from, by what the session itself reported. */
  function originOf(node: NodeRuntime, p: SeenPosition): ResultOrigin {
    const origin: ResultOrigin = { role: p.inRecovery ? 'replica' : 'primary' };
    if (p.lsn !== undefined) origin.lsn = formatLsn(p.lsn);
    if (!p.inRecovery) origin.lagMs = 0;
    else if (node.lagKnown) origin.lagMs = node.state.lagMs;
    return origin;
  }

  /** Replace an unknown session position on `g` by the primary's current one (which includes the write). */
  async function learnPosition(g: GroupRuntime, token: SessionToken): Promise<void> {
    const node = writablePrimary(g);
    let lsn: bigint;
    try {
      const r = await node.exec.provider.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l');
      lsn = parseLsnStrict(r.rows[0]?.l);
    } catch (err) {
      noteFailure(g, node, err);
      throw err instanceof PgmError ? err : wrapQueryError(err, g.clusterId, node.id, secrets);
    }
    if (token.positions.get(g.key) === UNKNOWN_POSITION) token.positions.set(g.key, lsn);
  }

  /** The freshness rule: what a result read elsewhere must satisfy to answer a read with `o`. */
  function freshnessOf(c: ClusterRuntime, g: GroupRuntime, o: RouteOptions): Freshness {
    if (o.role === 'primary') return PRIMARY_FRESHNESS;
    const entry = o.schema !== undefined ? schemaMap.get(o.schema) : undefined;
    const consistency = o.consistency ?? entry?.consistencyLevel ?? c.cfg.consistencyLevel;
    if (o.role !== 'replica') {
      if (consistency === 'strong') return PRIMARY_FRESHNESS;
      if ((entry?.readPreference ?? c.cfg.readPreference) === 'primary') return PRIMARY_FRESHNESS;
    }
    if (consistency === 'bounded') return { level: 'bounded', maxLagMs: o.maxLagMs ?? c.cfg.maxLagMs };
    if (consistency === 'session') {
      const lsn = (o.sessionToken ?? currentSession())?.positions.get(g.key);
      if (lsn !== undefined) return { level: 'session', minLsn: formatLsn(lsn) };
    }
    return ANY_FRESHNESS;
  }

  function readTarget(o: RouteOptions = {}): ReadTarget {
    const clusterId = o.clusterId !== undefined ? clusterById(o.clusterId).id : resolveCluster(o.schema, o.shardKey);
    const c = clusters.get(clusterId)!;
    const g = c.cfg.sharding ? chooseShard(c, o.shardKey).group : c.groups[0]!;
    return { clusterId, group: g.key, freshness: freshnessOf(c, g, o) };
  }

  /** The group for a shard key; a cluster with one group (unsharded, or sharded without listed shards) needs none. */
  function groupOf(clusterId: string, shardKey: unknown): GroupRuntime {
    const c = clusterById(clusterId);
    if (shardKey === undefined && c.groups.length === 1) return c.groups[0]!;
    return chooseShard(c, shardKey).group;
  }

  function snapshot(n: NodeRuntime): NodeSnapshot {
    return {
      clusterId: n.clusterId,
      nodeId: n.id,
      ...(n.shardId ? { shardId: n.shardId } : {}),
      role: n.state.role,
      configuredRole: n.configuredRole,
      healthy: n.state.healthy && !n.down,
      healthScore: n.state.healthScore,
      inFlight: n.state.inFlight,
      ewmaLatencyMs: n.state.ewmaLatencyMs,
      lagBytes: n.state.lagBytes,
      lagMs: n.state.lagMs,
      ...(n.lsn !== undefined ? { lsn: formatLsn(n.lsn) } : {}),
      failureCount: n.consecutiveFailures,
      queries: n.queries,
      errors: n.errors,
      totalTimeMs: n.totalTimeMs,
      pool: n.exec.stats(),
    };
  }

  function* nodes(): Generator<NodeRuntime> {
    for (const c of clusters.values()) for (const g of c.groups) yield* g.nodes;
  }

  const router: Router = {
    config: normalized,
    async start() {
      if (closed) throw new PgmError('CLOSED', 'The router is closed');
      await Promise.all(
        [...nodes()].map(async (n) => {
          const min = n.pool.min ?? 0;
          if (!n.pool.warmupConnections || min <= 0) return;
          // Concurrent round trips make the pool open `min` connections (left on the server-default search_path).
          const conns = Array.from({ length: min }, () =>
            n.exec.run('SELECT 1', undefined, NO_SCHEMA).catch(() => undefined),
          );
          await Promise.all(conns);
        }),
      );
      await monitor.start();
    },
    query,
    resolveCluster,
    readTarget,
    primary(clusterId, shardKey) {
      return groupOf(clusterId, shardKey).primaryProvider;
    },
    primaries(clusterId) {
      return clusterById(clusterId).groups.map((g) => g.primaryProvider);
    },
    shardPrimary(clusterId, shardId) {
      const c = clusterById(clusterId);
      const g = c.groups.find((x) => x.shardId === shardId);
      if (!g) {
        const ids = c.groups.flatMap((x) => (x.shardId ? [x.shardId] : []));
        throw new PgmError(
          'INVALID_ARGUMENT',
          ids.length > 0
            ? `Cluster "${clusterId}" has no shard "${shardId}"; its shards are ${ids.join(', ')}`
            : `Cluster "${clusterId}" is not sharded over listed servers: use primary("${clusterId}")`,
          { clusterId, details: { shardId } },
        );
      }
      return g.primaryProvider;
    },
    shardFor(clusterId, shardKey) {
      const c = clusterById(clusterId);
      const { partition, group } = chooseShard(c, shardKey);
      return { partition, ...(group.shardId ? { shardId: group.shardId } : {}) };
    },
    registerSchema(schema, clusterId, opts = {}) {
      if (typeof schema !== 'string' || schema === '') {
        throw new PgmError('INVALID_ARGUMENT', 'registerSchema: schema must be a non-empty string');
      }
      clusterById(clusterId);
      const previous = schemaMap.get(schema)?.clusterId;
      schemaMap.set(schema, { ...opts, clusterId });
      emit('schemaRegistered', { schema, clusterId, ...(previous ? { previous } : {}) });
    },
    schemas() {
      return Object.fromEntries([...schemaMap].map(([s, e]) => [s, e.clusterId]));
    },
    schemaOptions(schema) {
      const e = schemaMap.get(schema);
      return e ? { ...e } : undefined;
    },
    clusterIds() {
      return [...clusters.keys()];
    },
    async healthCheck() {
      if (closed) throw new PgmError('CLOSED', 'The router is closed');
      await monitor.probeAll();
      const out: Record<string, ClusterHealth> = {};
      for (const c of clusters.values()) {
        const nodesOut: ClusterHealth['nodes'] = {};
        let failures = 0;
        let error: string | undefined;
        for (const g of c.groups) {
          for (const n of g.nodes) {
            failures += n.consecutiveFailures;
            nodesOut[n.id] = {
              healthy: n.reachable && !n.down,
              role: n.state.role,
              responseTime: Math.round(n.responseTime * 100) / 100,
              lagBytes: n.state.lagBytes,
              lagMs: n.state.lagMs,
              ...(n.lastError ? { error: n.lastError } : {}),
              failureCount: n.consecutiveFailures,
            };
          }
          if (g.splitBrain) error ??= `more than one primary: ${g.splitBrain.join(', ')}`;
          else if (!g.primary.reachable) error ??= `primary ${g.primary.id}: ${g.primary.lastError ?? 'unreachable'}`;
        }
        const primaryTimes = c.groups.map((g) => g.primary.responseTime);
        out[c.id] = {
          healthy: error === undefined,
          responseTime: Math.round(Math.max(...primaryTimes) * 100) / 100,
          ...(error ? { error } : {}),
          failureCount: failures,
          nodes: nodesOut,
        };
      }
      return out;
    },
    nodeStates() {
      return [...nodes()].map(snapshot);
    },
    poolStats() {
      const out: Record<string, PoolStats> = {};
      for (const n of nodes()) out[n.key] = n.exec.stats();
      return out;
    },
    createSessionToken,
    createSession: createSessionToken,
    runWithSession<T>(a: SessionToken | (() => T), b?: () => T): T {
      if (typeof a === 'function') return runWithSessionToken(createSessionToken(), a);
      if (!b) throw new PgmError('INVALID_ARGUMENT', 'runWithSession(token, fn): fn is required');
      return runWithSessionToken(a, b);
    },
    currentSession,
    async noteWrite(clusterId, lsn, token, shardKey) {
      const t = token ?? currentSession();
      const c = clusterById(clusterId);
      if (!t) return undefined;
      if (lsn !== undefined) {
        const value = typeof lsn === 'bigint' ? lsn : parseLsnStrict(lsn);
        advanceToken(t, groupOf(clusterId, shardKey).key, value);
        return value;
      }
      // No shard key on a sharded cluster: every shard's position (conservative, never stale).
      const groups = shardKey === undefined ? c.groups : [groupOf(clusterId, shardKey)];
      let last: bigint | undefined;
      for (const g of groups) {
        try {
          const r = await g.primary.exec.provider.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l');
          last = parseLsnStrict(r.rows[0]?.l);
          advanceToken(t, g.key, last);
        } catch (err) {
          // The write is committed; only its position is unknown. Never fail the caller for it:
          // the session's next read there asks the primary first (see UNKNOWN_POSITION).
          noteFailure(g, g.primary, err);
          t.positions.set(g.key, UNKNOWN_POSITION);
          last = undefined;
        }
      }
      return last;
    },
    on(event, listener) {
      emitter.on(event, listener as (...a: unknown[]) => void);
      return router;
    },
    once(event, listener) {
      emitter.once(event, listener as (...a: unknown[]) => void);
      return router;
    },
    off(event, listener) {
      emitter.off(event, listener as (...a: unknown[]) => void);
      return router;
    },
    async close() {
      if (closed) return;
      closed = true;
      monitor.stop();
      await Promise.allSettled([...nodes()].map((n) => n.exec.end()));
    },
  };
  return router;
}

function parseLsnStrict(text: string | undefined): bigint {
  const v = parseLsn(text);
  if (v === undefined) throw new PgmError('INVALID_ARGUMENT', `Not a WAL position (X/Y): ${JSON.stringify(text)}`);
  return v;
}
