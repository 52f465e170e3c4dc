import { EventEmitter } from 'node:events';
import { createBalancer } from '@pg-multiverse/balancer';
import type {
  ClusterConfiguration,
  ConnectionProvider,
  NormalizedConfiguration,
  PoolStats,
  QueryResult,
  SchemaOptions,
  SqlTextAnalysis,
} from '@pg-multiverse/core';
import {
  createSqlAnalyzer,
  describeNode,
  PgmError,
  redactSecrets,
  validateConfiguration,
  validateRouterOptions,
} from '@pg-multiverse/core';
import { readOnShards, type ShardStatementRunner } from './cross-shard/read-on.js';
import { type ShardWrite, shardWrites } from './cross-shard/writes.js';
import { createExecutor, parseLsnStrict } from './executor.js';
import { createHealthMonitor, monitorSettings } from './health-monitor.js';
import { clusterHealth, snapshotNode } from './health-report.js';
import type { PartitionHold } from './partition-map/hold.js';
import type { PartitionMap } from './partition-map/map.js';
import { createPartitionMaps, type HoldPartitionsOptions } from './partition-map/partition-maps.js';
import { wrapQueryError } from './pg-errors.js';
import { createPlanner, Plan } from './planner.js';
import { createSchemaRegistry } from './schema-registry.js';
import { writablePrimary } from './select-node.js';
import { createSessionToken, currentSession, runWithSessionToken, type SessionToken } from './session-token.js';
import { chooseShard, groupOfPartition } from './shard.js';
import { buildCluster, type ClusterRuntime, type GroupRuntime, type NodeRuntime } from './topology.js';
import type {
  ClusterHealth,
  ExecuteOptions,
  NodeSnapshot,
  QueryPlan,
  RoutedResult,
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
  /**
   * Connect to every node once (unless `lazyConnect`): a primary that cannot be
   * reached or authenticated fails `start()` with `CONNECTION_FAILED`; a replica
   * that cannot is marked down (`nodeDown`). Then warm pools (`warmupConnections`),
   * probe every node and start the background monitor.
   */
  start(): Promise<void>;
  /**
   * Run one statement on the right cluster and node: `execute(plan(sql, options), params)`.
   * The result carries a non-enumerable `route`; a planning error rejects the promise.
   */
  query<R = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
    options?: RouteOptions,
  ): Promise<RoutedResult<R>>;
  /**
   * Core's analysis of a SQL text (kind, tables, statements, transaction control, session state),
   * memoized, with this router's `writeFunctions`: the same one `plan()` uses. For layers that must
   * know what a text is before routing it, or that observe statements the router did not plan (lent sessions).
   */
  analyze(sql: string): SqlTextAnalysis;
  /**
   * Decide, without running it, how a statement is routed (see `QueryPlan`). Throws on bad options.
   * On a sharded cluster pass the `params` you will execute it with: a `$n` compared with the shard
   * key picks the shard (without them such a statement plans as cross-shard).
   */
  plan(sql: string, options?: RouteOptions, params?: readonly unknown[]): QueryPlan;
  /**
   * A cross-shard write (`plan.kind === 'write' && plan.crossShard`): the statement each shard runs,
   * in the cluster's shard order (a multi-row `INSERT ... VALUES` split by its rows' keys with its `$n`
   * renumbered per statement; `UPDATE`/`DELETE`/DDL as they are). Nothing runs: the caller commits them
   * together (the facade: one two-phase commit). Throws `CROSS_SHARD_UNSUPPORTED` for what cannot be
   * split, `SHARD_KEY_REQUIRED` for rows without the key column.
   */
  shardWrites(plan: QueryPlan, params?: readonly unknown[]): ShardWrite[];
  /**
   * A cross-shard read (`plan.kind === 'read' && plan.crossShard`) on connections the caller holds, e.g.
   * a transaction's participants: each shard's statement (rewritten for the merge as `execute` rewrites
   * it, a stray shard's partition filter ANDed in) goes to `run(shardId, sql, values)`, all shards at
   * once, and the rows are merged as `execute` merges them (same `CROSS_SHARD_UNSUPPORTED` refusals).
   * Nothing is retried, no node is chosen and no event is emitted: `run` does that for its connections.
   * A shard's failure rejects the read.
   */
  crossShardRead<R = Record<string, unknown>>(
    plan: QueryPlan,
    params: readonly unknown[] | undefined,
    run: ShardStatementRunner,
  ): Promise<QueryResult<R>>;
  /** Run a plan made by this router's `plan()` (run it soon: it holds the session position of when it was made). */
  execute<R = Record<string, unknown>>(
    plan: QueryPlan,
    params?: readonly unknown[],
    options?: ExecuteOptions,
  ): Promise<RoutedResult<R>>;
  /** Cluster id for a schema (or the default cluster). */
  resolveCluster(schema?: string, shardKey?: unknown): string;
  /** The current primary of a cluster (or of the shard holding `shardKey`), following failover. */
  primary(clusterId: string, shardKey?: unknown): ConnectionProvider;
  /** The current primary of every shard of a cluster (one entry for unsharded clusters). */
  primaries(clusterId: string): ConnectionProvider[];
  /** The current primary of one listed shard (`sharding.shards[i].id`, default `shard-<i>`). */
  shardPrimary(clusterId: string, shardId: string): ConnectionProvider;
  /**
   * Until `task` succeeds, statements routed to this cluster (or one listed shard of it) through
   * `query()`/`execute()` first wait for it; if it fails, they fail with `NO_AVAILABLE_NODE` (its
   * message), and the next statement runs it again. For work whose result every later statement must
   * see, e.g. a committed transaction's COMMIT PREPARED left to recovery. Sessions lent through
   * `primary()` (which such work uses) do not wait.
   */
  holdUntil(target: { clusterId: string; shardId?: string }, task: () => Promise<unknown>): void;
  /** Partition and shard id of a shard key on a sharded cluster (`null`: partition 0, as PostgreSQL places a NULL key). */
  shardFor(clusterId: string, shardKey: unknown): { partition: number; shardId?: string };
  /**
   * The partition map in force of a cluster sharded over listed shards: `{ version, partitions,
   * owners, moved, strays }` (immutable; see README "Partition map").
   */
  partitionMap(clusterId: string): PartitionMap;
  /** Read the stored map now and switch to it if it is newer. */
  reloadPartitionMap(clusterId: string): Promise<PartitionMap>;
  /**
   * The routing side of a move's cutover: from now on, writes and `session` reads routed by this
   * router to `partitions` wait (resolves once those already running finished). See `PartitionHold`.
   */
  holdPartitions(options: HoldPartitionsOptions): Promise<PartitionHold>;
  /** Make every shard's ownership (what its guard accepts writes for) agree with the stored map. Recovery only. */
  syncPartitionOwnership(clusterId: string): Promise<Record<string, number[]>>;
  /** Install the ownership guard on every shard's tables carrying the shard key (idempotent): `{ shardId: tables }`. */
  installPartitionGuards(clusterId: string): Promise<Record<string, string[]>>;
  /** Record that `shardId` holds (or no longer holds) rows of partitions it does not own; a new map version. */
  updatePartitionStrays(
    clusterId: string,
    shardId: string,
    change: { add?: number[]; remove?: number[] },
  ): Promise<PartitionMap>;
  /**
   * For a read that visits every shard: a SQL predicate keeping only the rows of partitions `shardId`
   * owns (by `column`, default the shard key), or `undefined` when that shard holds no stray rows.
   */
  partitionFilter(
    clusterId: string,
    shardId: string,
    column?: string,
  ): { partitions: number[]; sql: string } | undefined;
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

/**
 * Build a router over a cluster configuration. Call `start()` before use
 * (queries also work before it, unmonitored). This file assembles the parts;
 * each lives in its own file: schema-registry (which cluster owns a schema),
 * planner (one plan per statement), executor (running plans: node choice,
 * retries, observation, session positions), health-monitor and
 * health-report (probes, and what they found), topology (the runtime of
 * clusters, shard groups and nodes).
 */
export function createRouter(
  config: ClusterConfiguration | NormalizedConfiguration,
  options: RouterOptions = {},
): Router {
  validateRouterOptions(options);
  const normalized = validateConfiguration(config, {
    ...(options.connectionPool ? { connectionPool: options.connectionPool } : {}),
    ...(options.loadBalancing ? { loadBalancing: options.loadBalancing } : {}),
  });
  // Every node's password, shards included, collected once by the validation (core).
  const secrets = [...normalized.secrets, ...(options.secrets ?? [])];
  const settings = monitorSettings(options.monitor);
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  const emit = <K extends keyof RouterEvents>(event: K, ...args: RouterEvents[K]) => {
    if (emitter.listenerCount(event) > 0) emitter.emit(event, ...args);
  };
  const redactErr = (e: Error): Error => {
    e.message = redactSecrets(e.message, secrets);
    return e;
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
        observe: (g, node, sql, t0, err) => {
          // A transaction refused by a shard that no longer owns the partition: learn the map for the retry.
          if (err !== undefined) maps.noteSessionError(g.clusterId, err);
          executor.observeSession(g, node, sql, t0, err);
        },
      }),
    );
  }
  const registry = createSchemaRegistry(normalized.schemaToCluster, clusters, options.defaultCluster);
  const monitor = createHealthMonitor(() => clusters.values(), settings, emit, secrets);
  const analyzer = createSqlAnalyzer(options.writeFunctions ? { writeFunctions: options.writeFunctions } : {});
  const planner = createPlanner(registry, analyzer, settings);
  const executor = createExecutor({
    emitter,
    emit,
    secrets,
    monitor: () => monitor,
    kindOf: planner.kindOf,
    strayFilter: (clusterId, shardId) => maps.strayFilter(clusterId, shardId),
  });
  const maps = createPartitionMaps({
    clusters,
    emit,
    secrets,
    schemasOf: (id) => Object.entries(registry.schemas()).flatMap(([schema, owner]) => (owner === id ? [schema] : [])),
  });
  let closed = false;

  function open(): void {
    if (closed) throw new PgmError('CLOSED', 'The router is closed');
  }

  /**
   * `plan` as this open router's own `Plan` (made by its `plan()`, its cluster still the one
   * configured), for `method`; `crossShard`: it must also be a read or write on several shards.
   */
  function ownPlan(plan: QueryPlan, method: string, crossShard?: 'read' | 'write'): Plan {
    open();
    if (!(plan instanceof Plan) || clusters.get(plan.clusterId) !== plan.cluster) {
      throw new PgmError('INVALID_ARGUMENT', `${method}(plan): pass a plan made by this router's plan()`);
    }
    if (crossShard !== undefined && (plan.kind !== crossShard || !plan.crossShard)) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `${method}(plan): the plan is not a ${crossShard} on several shards (plan.crossShard)`,
      );
    }
    return plan;
  }

  function query<R>(sql: string, params?: readonly unknown[], o: RouteOptions = {}): Promise<RoutedResult<R>> {
    let plan: Plan;
    try {
      open();
      plan = planner.plan(sql, o, params);
    } catch (err) {
      return Promise.reject(err);
    }
    return maps.execute<R>(plan, params, executor.execute);
  }

  /** The group for a shard key; a cluster with one group (unsharded, or sharded without listed shards) needs none. */
  function groupOf(clusterId: string, shardKey: unknown): GroupRuntime {
    const c = registry.cluster(clusterId);
    if (shardKey === undefined && c.groups.length === 1) return c.groups[0]!;
    return chooseShard(c, shardKey).group;
  }

  function* nodes(): Generator<NodeRuntime> {
    for (const c of clusters.values()) for (const g of c.groups) yield* g.nodes;
  }

  /** Where a node is, for messages: `postgres://user:***@host:port/db` (never a password). */
  function whereIs(n: NodeRuntime): string {
    return redactSecrets(describeNode(n.pgConfig as Parameters<typeof describeNode>[0]), secrets);
  }

  /** A replica that could not be reached at start: down now, probed again by the monitor. */
  function markDownAtStart(n: NodeRuntime, err: PgmError): void {
    n.reachable = false;
    n.down = true;
    n.downSince = Date.now();
    n.consecutiveFailures = Math.max(n.consecutiveFailures, 1);
    n.lastError = err.message;
    n.lagKnown = false;
    n.state.healthy = false;
    n.state.healthScore = 0;
    emit('nodeDown', {
      clusterId: n.clusterId,
      nodeId: n.id,
      reason: err.message,
      failureCount: n.consecutiveFailures,
    });
  }

  /** One round trip per node through its own pool (the settings queries use: password callback, TLS, options). */
  async function connectAll(): Promise<void> {
    const failedPrimaries: PgmError[] = [];
    await Promise.all(
      [...groupsOf()].flatMap((g) =>
        g.nodes.map(async (n) => {
          try {
            await n.provider.query('SELECT 1');
          } catch (err) {
            const e = wrapQueryError(err, n.clusterId, n.id, secrets);
            const role = n === g.primary ? 'primary' : 'replica';
            const why = new PgmError(
              e.code,
              `Cannot connect to ${role} ${n.key} (${whereIs(n)})${e.sqlState ? ` [${e.sqlState}]` : ''}: ${(e.cause as Error | undefined)?.message ?? e.message}`,
              {
                cause: e.cause ?? e,
                clusterId: n.clusterId,
                nodeId: n.id,
                ...(e.details ? { details: e.details } : {}),
              },
            );
            if (n === g.primary) failedPrimaries.push(why);
            else markDownAtStart(n, why);
          }
        }),
      ),
    );
    if (failedPrimaries.length === 1) throw failedPrimaries[0];
    if (failedPrimaries.length > 1) {
      const first = failedPrimaries[0]!;
      throw new PgmError(
        first.code,
        `Cannot connect to ${failedPrimaries.length} primaries:\n${failedPrimaries.map((e) => `  - ${e.message}`).join('\n')}`,
        {
          cause: first,
          clusterId: first.clusterId,
          nodeId: first.nodeId,
          details: {
            failures: failedPrimaries.map((e) => ({ clusterId: e.clusterId, nodeId: e.nodeId, code: e.code })),
          },
        },
      );
    }
  }

  function* groupsOf(): Generator<GroupRuntime> {
    for (const c of clusters.values()) yield* c.groups;
  }

  const router: Router = {
    config: normalized,
    async start() {
      open();
      if (!options.lazyConnect) await connectAll();
      // The partition maps in force (stored on each coordinator, seeded from the configuration once).
      await maps.start();
      await Promise.all(
        [...nodes()].map(async (n) => {
          const min = n.pool.min ?? 0;
          if (!n.pool.warmupConnections || min <= 0) return;
          // Concurrent round trips make the pool open `min` connections (left on the server-default search_path).
          const conns = Array.from({ length: min }, () => n.provider.query('SELECT 1').catch(() => undefined));
          await Promise.all(conns);
        }),
      );
      await monitor.start();
    },
    query,
    plan(sql, o = {}, params) {
      open();
      return planner.plan(sql, o, params);
    },
    analyze: (sql) => analyzer.analyze(sql),
    shardWrites(plan, params = []) {
      const own = ownPlan(plan, 'shardWrites', 'write');
      return shardWrites(own, params, (shardId) => maps.strayFilter(own.clusterId, shardId));
    },
    crossShardRead<R>(plan: QueryPlan, params: readonly unknown[] | undefined, run: ShardStatementRunner) {
      let own: Plan;
      try {
        own = ownPlan(plan, 'crossShardRead', 'read');
      } catch (err) {
        return Promise.reject(err);
      }
      return readOnShards<R>(own, params, run, (clusterId, shardId) => maps.strayFilter(clusterId, shardId));
    },
    execute<R>(plan: QueryPlan, params?: readonly unknown[], eo?: ExecuteOptions) {
      let own: Plan;
      try {
        own = ownPlan(plan, 'execute');
      } catch (err) {
        return Promise.reject(err);
      }
      const p = eo?.readOrigin ? own.withOrigin() : own;
      return maps.execute<R>(p, params, executor.execute, eo?.shape);
    },
    resolveCluster: (schema, shardKey) => registry.resolve(schema, shardKey),
    primary(clusterId, shardKey) {
      return groupOf(clusterId, shardKey).primaryProvider;
    },
    primaries(clusterId) {
      return registry.cluster(clusterId).groups.map((g) => g.primaryProvider);
    },
    shardPrimary(clusterId, shardId) {
      const c = registry.cluster(clusterId);
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
    holdUntil(target, task) {
      const c = registry.cluster(target.clusterId);
      const g = target.shardId === undefined ? c.groups[0]! : c.groups.find((x) => x.shardId === target.shardId);
      if (!g || (target.shardId === undefined && c.groups.length > 1)) {
        throw new PgmError('INVALID_ARGUMENT', `holdUntil: name one shard of cluster "${c.id}"`, { clusterId: c.id });
      }
      (g.holds ??= []).push(task);
    },
    partitionMap: (clusterId) => maps.current(clusterId),
    reloadPartitionMap(clusterId) {
      open();
      return maps.reload(clusterId);
    },
    holdPartitions(o) {
      open();
      return maps.hold(o);
    },
    syncPartitionOwnership(clusterId) {
      open();
      return maps.syncOwnership(clusterId);
    },
    installPartitionGuards(clusterId) {
      open();
      return maps.installGuards(clusterId);
    },
    updatePartitionStrays(clusterId, shardId, change) {
      open();
      return maps.updateStrays(clusterId, shardId, change);
    },
    partitionFilter: (clusterId, shardId, column) => maps.filter(clusterId, shardId, column),
    shardFor(clusterId, shardKey) {
      const c = registry.cluster(clusterId);
      if (shardKey === null && c.cfg.sharding) {
        // A NULL key is partition 0, where PostgreSQL's hash partitioning puts it.
        const group = groupOfPartition(c, 0);
        return { partition: 0, ...(group.shardId ? { shardId: group.shardId } : {}) };
      }
      const { partition, group } = chooseShard(c, shardKey);
      return { partition, ...(group.shardId ? { shardId: group.shardId } : {}) };
    },
    registerSchema(schema, clusterId, opts = {}) {
      const previous = registry.register(schema, clusterId, opts);
      emit('schemaRegistered', { schema, clusterId, ...(previous ? { previous } : {}) });
    },
    schemas: () => registry.schemas(),
    schemaOptions(schema) {
      const e = registry.entry(schema);
      return e ? { ...e } : undefined;
    },
    clusterIds() {
      return [...clusters.keys()];
    },
    async healthCheck() {
      open();
      await monitor.probeAll();
      const out: Record<string, ClusterHealth> = {};
      for (const c of clusters.values()) out[c.id] = clusterHealth(c);
      return out;
    },
    nodeStates() {
      return [...nodes()].map(snapshotNode);
    },
    poolStats() {
      const out: Record<string, PoolStats> = {};
      for (const n of nodes()) out[n.key] = n.provider.stats();
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
      const c = registry.cluster(clusterId);
      if (!t) return undefined;
      const value = lsn === undefined ? undefined : typeof lsn === 'bigint' ? lsn : parseLsnStrict(lsn);
      // An explicit position names one group; without one, no shard key on a sharded cluster means every
      // shard's position (conservative, never stale).
      const groups = value !== undefined || shardKey !== undefined ? [groupOf(clusterId, shardKey)] : c.groups;
      return executor.noteWrite(groups, t, value);
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
      await maps.close();
      await Promise.allSettled([...nodes()].map((n) => (n.ownsProvider ? n.provider.end() : undefined)));
    },
  };
  return router;
}
