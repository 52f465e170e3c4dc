import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { createQueryCache, type QueryCache } from '@pg-multiverse/cache';
import {
  type ClusterConfiguration,
  ConfigError,
  type ConfigIssue,
  checkPgMultiverseOptions,
  listedShards,
  locationOf,
  PgmError,
  type QueryResult,
  quoteIdent,
  type ResultOrigin,
  redactError,
  redactSecrets,
  type SchemaOptions,
  type StatementShape,
  toPgPoolConfig,
  validateConfiguration,
  validatePgMultiverseOptions,
} from '@pg-multiverse/core';
import {
  importModule,
  type Migration,
  type MigrationCreateOptions,
  type MigrationExecutionOptions,
  MigrationManager,
  type MigrationRollbackOptions,
  type MigrationRunResult,
  type MigrationStatus,
} from '@pg-multiverse/migrate';
import {
  createReshard,
  type MovePartitionsOptions,
  type MoveReport,
  type RebalanceOptions,
  type RebalanceReport,
  type RecoveredMove,
  type Reshard,
} from '@pg-multiverse/reshard';
import {
  type ClusterHealth,
  createRouter,
  type QueryExecutedEvent,
  type QueryPlan,
  type RouteOptions,
  type Router,
  runWithStatementContext,
  type SessionToken,
  type ShardWrite,
} from '@pg-multiverse/router';
import {
  createTransactionManager,
  type RecoveryReport,
  type StatementRecord,
  type Transaction,
  type TransactionManager,
  type TransactionOptions,
} from '@pg-multiverse/tx';
import { type CopyFromOptions, type CopyFromResult, type CopyInput, copyFrom } from './copy-from.js';
import {
  CACHE_EVENTS,
  MIGRATION_EVENTS,
  type PgMultiverseEvents,
  RESHARD_EVENTS,
  ROUTER_EVENTS,
  TRANSACTION_EVENTS,
} from './events.js';
import { type CacheMetrics, MetricsCollector, type SystemMetrics } from './metrics.js';
import { type NodeAddress, nodeAddresses } from './node-addresses.js';
import type { InvalidationCriteria, PgMultiverseOptions, QueryOptions } from './options.js';
import { type PoolBackend, RoutingPool, type RoutingPoolOptions } from './pool.js';
import { toPgError } from './pool-query.js';
import { prometheusHandler, renderPrometheus } from './prometheus.js';
import { reshardEnvironment } from './reshard-environment.js';
import { mergeWriteResults, runShardWrites } from './shard-write.js';
import { isPrepareTransaction, loadOpenTelemetryApi, type Span, TRACER_NAME, Tracing } from './tracing.js';
import { transactionRoute } from './tx-route.js';

/** What `withTransaction`'s callback receives (see `@pg-multiverse/tx`). */
export type TransactionContext = Transaction;

export type TransactionCallback<T> = (tx: Transaction) => Promise<T>;

type EventName = keyof PgMultiverseEvents;

/**
 * The facade: one object for many PostgreSQL clusters. Wires the router,
 * balancer, cache, transaction manager and migration manager together.
 */
export class PgMultiverse extends EventEmitter {
  private readonly options: PgMultiverseOptions;
  private router: Router | undefined;
  private cache: QueryCache | undefined;
  private tm: TransactionManager | undefined;
  private mm: MigrationManager | undefined;
  private reshard: Reshard | undefined;
  private metrics: MetricsCollector | undefined;
  private tracing: Tracing | undefined;
  /** Transactions that sent PREPARE TRANSACTION (counted as two-phase commits when they end). */
  private readonly twoPhaseStarted = new Set<string>();
  private nodes: ReadonlyMap<string, NodeAddress> = new Map();
  private secrets: string[] = [];
  private closed = false;
  private initializing: Promise<void> | undefined;
  /** Statements of transactions this instance runs, filled on commit, for cache invalidation. */
  private readonly committedStatements = new Map<string, { statements: StatementRecord[]; pending: string[] }>();
  /** Participant id (`cluster` or `cluster[shard]`) -> where it is, for holds after a commit. */
  private readonly participantTargets = new Map<string, { clusterId: string; shardId?: string }>();
  /** Participants whose primary has `max_prepared_transactions = 0`: the error a cross-cluster transaction gets. */
  private readonly twoPhaseDisabled = new Map<string, PgmError>();

  /** Throws `ConfigError` (`INVALID_CONFIG`) listing every problem of `options`, unknown keys included. */
  constructor(options: PgMultiverseOptions = {}) {
    super();
    validatePgMultiverseOptions(options);
    this.options = options;
    // An EventEmitter throws on an unhandled 'error' event; our 'error' is informational.
    this.on('error', () => {});
  }

  /** Typed: a misspelt event name or payload field is a compile error. */
  override on<K extends EventName>(event: K, listener: (payload: PgMultiverseEvents[K]) => void): this {
    return super.on(event, listener);
  }

  override once<K extends EventName>(event: K, listener: (payload: PgMultiverseEvents[K]) => void): this {
    return super.once(event, listener);
  }

  override off<K extends EventName>(event: K, listener: (payload: PgMultiverseEvents[K]) => void): this {
    return super.off(event, listener);
  }

  override emit<K extends EventName>(event: K, payload: PgMultiverseEvents[K]): boolean {
    return super.emit(event, payload);
  }

  /**
   * Connect to every cluster: validate the configuration (an object, or a path
   * to a `.json`/`.js`/`.mjs`/`.ts` file exporting one), open pools, probe
   * every node, recover in-doubt transactions and load migrations.
   */
  async initialize(config: ClusterConfiguration | string): Promise<void> {
    if (this.closed) throw new PgmError('CLOSED', 'initialize() called after close(); create a new PgMultiverse');
    if (this.initializing)
      throw new PgmError('ALREADY_INITIALIZED', 'initialize() was already called on this instance');
    this.initializing = this.doInitialize(config);
    try {
      await this.initializing;
    } catch (err) {
      await this.close().catch(() => {});
      throw redactError(err as Error, this.secrets);
    }
  }

  private async doInitialize(input: ClusterConfiguration | string): Promise<void> {
    const config = await loadConfiguration(input);
    const o = this.options;
    const normalized = validateConfiguration(config, {
      ...(o.connectionPool ? { connectionPool: o.connectionPool } : {}),
      ...(o.loadBalancing ? { loadBalancing: o.loadBalancing } : {}),
    });
    // Validated once (core): the normalized configuration, with every node's secrets (shards too),
    // is what the router and the migration manager receive.
    this.secrets = [...normalized.secrets];
    const metricsOn = o.enableMetrics !== false;
    this.nodes = nodeAddresses(normalized);
    if (metricsOn) {
      this.metrics = new MetricsCollector();
      this.metrics.declareNodes(this.nodes.values());
    }
    // OpenTelemetry: the optional peer @opentelemetry/api, loaded once; without it tracing is a no-op.
    const otel = o.tracing === false ? undefined : await loadOpenTelemetryApi();
    if (!otel && (o.tracer || o.tracing === true)) {
      throw new PgmError(
        'TRACING_UNAVAILABLE',
        `${o.tracer ? 'the tracer option' : 'tracing: true'} needs the package @opentelemetry/api (an optional peer dependency of pg-multiverse): install it, or leave tracing unset`,
      );
    }

    const router = createRouter(normalized, {
      ...(o.lazyConnect ? { lazyConnect: true } : {}),
      ...(o.cluster ? { monitor: o.cluster } : {}),
      ...(o.loadBalancing ? { loadBalancing: o.loadBalancing } : {}),
      ...(o.connectionPool ? { connectionPool: o.connectionPool } : {}),
      ...(o.providers ? { providers: o.providers } : {}),
      ...(o.defaultCluster !== undefined ? { defaultCluster: o.defaultCluster } : {}),
      ...(o.writeFunctions !== undefined ? { writeFunctions: o.writeFunctions } : {}),
    });
    this.router = router;
    this.forward(router, ROUTER_EVENTS);
    if (otel) {
      const tracer = (o.tracer ?? otel.trace.getTracer(TRACER_NAME)) as import('@opentelemetry/api').Tracer;
      const global = o.tracer === undefined;
      this.tracing = new Tracing(otel, tracer, this.nodes, (sql) => router.analyze(sql), this.secrets, global);
    }
    router.on('warning', (w) => this.emit('warning', w));
    // The router only builds queryExecuted payloads when someone listens: attach our listener
    // when metrics or tracing are on or once the application subscribes, so disabled metrics cost nothing.
    const metrics = this.metrics;
    let attached = false;
    const attach = () => {
      if (attached) return;
      attached = true;
      router.on('queryExecuted', (e) => {
        if (metrics) {
          if (e.nodeIds) {
            // A cross-shard statement ran on one node per shard: each node counts it.
            for (const n of e.nodeIds) {
              metrics.recordNode(e.clusterId, n, e.durationMs, e.ok);
              metrics.observeDuration(e.clusterId, n, e.role, e.kind, e.durationMs);
            }
          } else {
            metrics.recordNode(e.clusterId, e.nodeId, e.durationMs, e.ok);
            metrics.observeDuration(e.clusterId, e.nodeId, e.role, e.kind, e.durationMs);
          }
          if (e.reason === 'cross-shard') metrics.recordCrossShard(e.clusterId);
        }
        // Statements on lent sessions (transactions, migrations) never pass through query():
        // they are counted and traced here, from the router's observation.
        if (e.reason === 'session') this.observeSessionStatement(e);
        // The router's payload already carries `duration`: passed on as is, no copy per query.
        if (this.listenerCount('queryExecuted') > 0) this.emit('queryExecuted', e);
      });
    };
    if (metrics || this.tracing || this.listenerCount('queryExecuted') > 0) attach();
    else super.on('newListener', (event: string | symbol) => event === 'queryExecuted' && attach());
    if (metrics) {
      router.on('queryRetried', (e) => metrics.recordRetry(e.clusterId));
      router.on('nodeDown', (e) => metrics.recordTransition(e.clusterId, e.nodeId, 'down'));
      router.on('nodeUp', (e) => metrics.recordTransition(e.clusterId, e.nodeId, 'up'));
    }
    // A Redis store without ioredis (or any store that cannot work) fails the start, not the first read.
    const store = o.enableCache ? o.cache?.store : undefined;
    if (store && typeof store.ready === 'function') {
      try {
        await store.ready();
      } catch (err) {
        throw err instanceof PgmError
          ? err
          : new PgmError('CACHE_ERROR', `the cache store is not ready: ${(err as Error)?.message}`, { cause: err });
      }
    }
    await router.start();

    if (o.enableCache) {
      const c = o.cache ?? {};
      // The facade's `cache` option is core's CacheOptions (what createQueryCache takes) plus `notify`.
      const { notify: _notify, ...cacheOptions } = c;
      this.cache = createQueryCache(cacheOptions);
      this.forward(this.cache, CACHE_EVENTS);
      if (!c.store && c.notify !== false) {
        // One LISTEN/NOTIFY bus per cluster, on its current primary (followed after a failover).
        await this.cache.attachNotify(
          Object.keys(normalized.clusters).map((clusterId) => ({
            clusterId,
            connect: () => {
              const cluster = router.config.clusters[clusterId]!;
              const current = router
                .nodeStates()
                .find((n) => n.clusterId === clusterId && n.role === 'primary' && !n.shardId);
              const node =
                [cluster.primary, ...cluster.replicas].find((n) => n.id === current?.nodeId) ?? cluster.primary;
              const { max: _max, min: _min, idleTimeoutMillis: _idle, ...clientConfig } = toPgPoolConfig(node);
              return clientConfig;
            },
          })),
        );
      }
    }

    const t = o.transactions ?? {};
    // Transaction participants: whole clusters, and each listed shard of a cluster sharded
    // over several servers as `cluster[shard]` (chosen per statement by its shard key).
    const shards = listedShards(normalized);
    for (const cluster of Object.keys(normalized.clusters)) {
      const ids = shards[cluster];
      if (!ids) this.participantTargets.set(cluster, { clusterId: cluster });
      else
        for (const shard of ids)
          this.participantTargets.set(locationOf({ cluster, shard }), { clusterId: cluster, shardId: shard });
    }
    const participants = [...this.participantTargets.keys()];
    const shardedClusters = new Set(Object.keys(shards));
    this.tm = createTransactionManager({
      resolveCluster: (schema: string) => router.resolveCluster(schema),
      primary: (participant: string) => {
        const t = this.participantTargets.get(participant);
        return t?.shardId !== undefined ? router.shardPrimary(t.clusterId, t.shardId) : router.primary(participant);
      },
      participantOf: (clusterId: string, shardKey: unknown) =>
        locationOf({ cluster: clusterId, shard: router.shardFor(clusterId, shardKey).shardId }),
      // A statement on a sharded cluster goes where query() would send it (the key in its SQL).
      routeStatement: (request) => transactionRoute(router, shardedClusters, request),
      clusterIds: () => participants,
      // Off: one participant at most (two shards would need the two-phase commit too).
      ...(o.enableTransactions === false ? { maxParticipants: 1 } : {}),
      ...(t.coordinatorClusterId ? { coordinatorClusterId: t.coordinatorClusterId } : {}),
      recoveryIntervalMs: o.enableTransactions === false ? 0 : (t.recoveryIntervalMs ?? 30_000),
      ...(t.safeAgeMs !== undefined ? { safeAgeMs: t.safeAgeMs } : {}),
      // 2PC phase spans hang off the protocol's hooks (the protocol itself knows nothing of tracing).
      ...(this.tracing
        ? {
            hooks: {
              afterPrepare: (info) => this.tracing?.afterPrepare(info),
              afterDecision: (info) => this.tracing?.afterDecision(info),
            },
          }
        : {}),
    });
    this.forward(this.tm, TRANSACTION_EVENTS);
    this.observeTransactions(this.tm);
    this.tm.on('transactionCommitted', (e) => {
      const waiting = this.committedStatements.get(e.id);
      if (waiting) {
        waiting.statements.push(...e.statements);
        waiting.pending.push(...e.pendingRecovery);
      }
    });
    if (o.enableTransactions !== false && participants.length > 1 && !o.lazyConnect) {
      await this.preflightTwoPhase(this.tm, participants);
      await this.tm.recover();
    }

    if (o.enableMigrations) {
      this.mm = new MigrationManager({
        ...(o.migrations ?? {}),
        clusters: normalized,
        primary: (clusterId: string, shardId?: string) =>
          shardId === undefined ? router.primary(clusterId) : router.shardPrimary(clusterId, shardId),
      });
      this.forward(this.mm, MIGRATION_EVENTS);
      const tracing = this.tracing;
      if (tracing) {
        this.mm.on('migrationStarted', (e) => tracing.migrationStarted(e));
        this.mm.on('migrationCompleted', (e) => tracing.migrationEnded(e));
        this.mm.on('migrationFailed', (e) => tracing.migrationEnded(e));
      }
      await this.mm.initialize();
    }
  }

  /**
   * `max_prepared_transactions = 0` (PostgreSQL's default) on a participant does not stop
   * the start: plain queries and one-cluster transactions work; a cross-cluster transaction
   * touching it is refused with this error when attempted. One `warning` event says so now.
   */
  private async preflightTwoPhase(tm: TransactionManager, participants: string[]): Promise<void> {
    const results = await Promise.allSettled(participants.map((p) => tm.preflight([p])));
    const errors: unknown[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') return;
      if (r.reason instanceof PgmError && r.reason.code === 'PREPARED_TRANSACTIONS_DISABLED') {
        this.twoPhaseDisabled.set(participants[i]!, r.reason);
      } else errors.push(r.reason);
    });
    if (errors.length > 0) throw errors[0];
    if (this.twoPhaseDisabled.size === 0) return;
    const ids = [...this.twoPhaseDisabled.keys()];
    const first = this.twoPhaseDisabled.get(ids[0]!)!;
    this.emit('warning', {
      code: 'PREPARED_TRANSACTIONS_DISABLED',
      participants: ids,
      message: `max_prepared_transactions = 0 on ${ids.join(', ')}: queries and one-cluster transactions work; a transaction across clusters involving ${ids.length === 1 ? 'it' : 'them'} will be refused. ${first.message}`,
      error: first,
    });
  }

  private observeSessionStatement(e: QueryExecutedEvent): void {
    const metrics = this.metrics;
    if (metrics) {
      metrics.recordQuery(e.clusterId, e.kind, e.durationMs, e.ok, false);
      if (!e.ok) metrics.recordError(e.clusterId, e.errorCode ?? 'UNKNOWN');
      // A transaction that sent PREPARE TRANSACTION is a two-phase commit, whatever its outcome.
      if (e.transactionId !== undefined && isPrepareTransaction(this.router!.analyze(e.sql))) {
        this.twoPhaseStarted.add(e.transactionId);
      }
    }
    this.tracing?.statement(e);
  }

  /** Transaction spans and outcome counters, from the transaction manager's events. */
  private observeTransactions(tm: TransactionManager): void {
    const tracing = this.tracing;
    const metrics = this.metrics;
    if (tracing) tm.on('transactionStarted', (e) => tracing.transactionStarted(e));
    tm.on('transactionCommitted', (e) => {
      this.twoPhaseStarted.delete(e.id);
      metrics?.recordTransaction('committed', e.twoPhase ? 'committed' : undefined);
      tracing?.transactionCommitted(e);
    });
    tm.on('transactionRolledBack', (e) => {
      // Rolled back after PREPARE TRANSACTION was sent: a two-phase commit that did not commit.
      const twoPhase = this.twoPhaseStarted.delete(e.id);
      metrics?.recordTransaction('rolled_back', twoPhase ? 'rolled_back' : undefined);
      tracing?.transactionRolledBack(e);
    });
    if (metrics) tm.on('transactionRecovered', (e) => metrics.recordRecovered(e.action));
  }

  /** Pass a package's events on under the same names (the tables in events.ts say which). */
  private forward<N extends EventName>(
    source: { on(event: NoInfer<N>, listener: (payload: PgMultiverseEvents[NoInfer<N>]) => void): unknown },
    events: readonly N[],
  ): void {
    for (const name of events) source.on(name, (payload) => this.emit(name, this.redactPayload(payload)));
  }

  /** Payloads carrying an error (recoveryFailed, cacheError, poolError, ...) pass the configured secrets' filter. */
  private redactPayload<P>(payload: P): P {
    const error = (payload as { error?: unknown } | null)?.error;
    if (error instanceof Error && this.secrets.length > 0) redactError(error, this.secrets);
    return payload;
  }

  private need(): Router {
    if (this.closed) throw new PgmError('CLOSED', 'this PgMultiverse was closed');
    if (!this.router) throw new PgmError('NOT_INITIALIZED', 'call await initialize(config) before using PgMultiverse');
    return this.router;
  }

  /**
   * Run one statement on the right cluster and node. Reads go to a replica
   * chosen by the balancer (per the consistency level), writes to the primary.
   */
  query<T = Record<string, unknown>>(
    sql: string,
    params: unknown[] = [],
    options: QueryOptions = {},
  ): Promise<QueryResult<T>> {
    return this.runQuery<T>(sql, params, options, undefined, undefined, false);
  }

  /**
   * `query()`, plus what a `pool()` statement brings: its result shape (rowMode, types, name), its
   * pool's route options made once (the pool's `schema` as `defaultSchema`, the fallback for
   * statements that name no schema), and pg's error form (`toPgError`). The one query path.
   */
  private runQuery<T>(
    sql: string,
    params: unknown[],
    options: QueryOptions,
    route: RouteOptions | undefined,
    shape: StatementShape | undefined,
    pgErrors: boolean,
  ): Promise<QueryResult<T>> {
    // The router plans (classification, cluster, shard, consistency) synchronously; the facade
    // only wraps that plan with the cache, metrics and tracing. Planning errors reject the promise.
    let router: Router;
    let plan: QueryPlan;
    let cached: boolean;
    try {
      router = this.need();
      if (typeof sql !== 'string' || sql.trim() === '') {
        throw new PgmError('INVALID_ARGUMENT', 'query(sql): sql must be a non-empty string');
      }
      if (!Array.isArray(params)) throw new PgmError('INVALID_ARGUMENT', 'query(sql, params): params must be an array');
      plan = router.plan(sql, route ?? routeOptions(options), params);
      cached =
        this.cache !== undefined &&
        plan.kind === 'read' &&
        (options.cache === true || (options.cache !== false && plan.cacheStrategy === 'aggressive')) &&
        // a partial cross-shard result is never stored
        !(options.allowPartial === true && plan.crossShard);
    } catch (err) {
      return Promise.reject(err);
    }
    if (plan.kind === 'write' && plan.crossShard) {
      return pgErrorsOf(this.crossShardWrite<T>(router, plan, params, options), pgErrors);
    }
    const tracing = this.tracing;
    // The span starts before the statement runs, in the caller's context (its parent).
    const span = tracing?.startQuery(plan);
    if (cached) return pgErrorsOf(this.queryCached<T>(router, plan, params, options, span, shape), pgErrors);
    const eo = shape ? { shape } : undefined;
    // Plain path (no cache): a promise chain rather than an async function,
    // whose suspended frame was the largest allocation of a query (measured).
    const metrics = this.metrics;
    const t0 = metrics ? performance.now() : 0;
    return router.execute<T>(plan, params, eo).then(
      (result) => {
        if (plan.kind === 'write' && this.cache) return pgErrorsOf(this.afterWrite(result, plan, t0, span), pgErrors);
        metrics?.recordQuery(plan.clusterId, plan.kind, performance.now() - t0, true, false);
        if (span) tracing!.endQuery(span, result, false);
        return result;
      },
      (err) => {
        const e = this.queryFailed(err, plan, t0, span, false);
        throw pgErrors ? toPgError(e) : e;
      },
    );
  }

  /** Count, trace and redact a failed `query()`; returns the error to throw. */
  private queryFailed(err: unknown, plan: QueryPlan, t0: number, span: Span | undefined, cached: boolean): Error {
    const e = redactError(err as Error, this.secrets);
    const metrics = this.metrics;
    if (metrics) {
      metrics.recordQuery(plan.clusterId, plan.kind, performance.now() - t0, false, cached);
      metrics.recordError(plan.clusterId, errorCodeOf(e));
    }
    if (span) this.tracing!.failQuery(span, e, cached);
    return e;
  }

  /** A write went through with the cache on: invalidate what it touched, then count it. */
  private async afterWrite<T>(
    result: QueryResult<T>,
    plan: QueryPlan,
    t0: number,
    span: Span | undefined,
  ): Promise<QueryResult<T>> {
    try {
      await this.invalidateWrite(plan);
    } catch (err) {
      throw this.queryFailed(err, plan, t0, span, false);
    }
    this.metrics?.recordQuery(plan.clusterId, 'write', performance.now() - t0, true, false);
    if (span) this.tracing!.endQuery(span, result, false);
    return result;
  }

  /**
   * A write on several shards (`plan.crossShard`): the router's per-shard statements (`shardWrites`),
   * run through the transaction manager with one participant per shard, committed by two-phase commit
   * unless `atomic: false`; one result (rowCount summed, RETURNING rows merged), one `queryExecuted`
   * (reason `cross-shard`, `shardIds`), then the cache forgets what it wrote.
   */
  private async crossShardWrite<T>(
    router: Router,
    plan: QueryPlan,
    params: unknown[],
    options: QueryOptions,
  ): Promise<QueryResult<T>> {
    const t0 = performance.now();
    // The span starts before the statement runs, in the caller's context (its parent).
    const span = this.tracing?.startQuery(plan);
    let writes: ShardWrite[] = [];
    try {
      writes = router.shardWrites(plan, params);
      const schema = plan.schema;
      if (schema === undefined) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          `A write on several shards of cluster "${plan.clusterId}" runs as a transaction on each shard, which needs the table's { schema }`,
          { clusterId: plan.clusterId },
        );
      }
      const atomic = options.atomic !== false;
      if (atomic && writes.length > 1) {
        this.checkTwoPhase(
          writes.map((w) => locationOf({ cluster: plan.clusterId, shard: w.shardId })),
          `A write on ${writes.length} shards of cluster "${plan.clusterId}" (pass { atomic: false } to commit shard by shard)`,
        );
      }
      // Each transaction's follow-up (cache, holds, session positions) as for withTransaction.
      const transaction = <R>(fn: TransactionCallback<R>) => this.transact(router, [schema], fn, {}, false);
      const results = await runShardWrites({ transaction, clusterId: plan.clusterId, schema, atomic }, writes);
      const result = mergeWriteResults<T>(writes, results);
      const shards = shardsOf(plan, writes);
      this.observeCrossShardWrite(router, plan, shards, t0);
      if (span) {
        span.setAttribute('pgm.shards', shards.join(','));
        this.tracing!.endQuery(span, result, false);
      }
      return result;
    } catch (err) {
      const e = redactError(err as Error, this.secrets);
      const shards = shardsOf(plan, writes);
      this.observeCrossShardWrite(router, plan, shards, t0, e);
      if (span) {
        span.setAttribute('pgm.shards', shards.join(','));
        this.tracing!.failQuery(span, e, false);
      }
      throw e;
    }
  }

  /** Metrics and one `queryExecuted` for a whole cross-shard write (its per-shard statements report nothing). */
  private observeCrossShardWrite(
    router: Router,
    plan: Pick<QueryPlan, 'clusterId' | 'schema' | 'sql'>,
    shardIds: readonly string[],
    t0: number,
    err?: Error,
  ): void {
    const ms = performance.now() - t0;
    // `cluster/shard-0/primary` -> `shard-0/primary`: the current primary of each shard.
    const nodeIds = shardIds.map((id) => router.shardPrimary(plan.clusterId, id).id.slice(plan.clusterId.length + 1));
    const metrics = this.metrics;
    if (metrics) {
      metrics.recordQuery(plan.clusterId, 'write', ms, err === undefined, false);
      if (err !== undefined) metrics.recordError(plan.clusterId, errorCodeOf(err));
      for (const nodeId of nodeIds) {
        metrics.recordNode(plan.clusterId, nodeId, ms, err === undefined);
        metrics.observeDuration(plan.clusterId, nodeId, 'primary', 'write', ms);
      }
    }
    if (shardIds.length > 1) this.metrics?.recordCrossShard(plan.clusterId);
    if (this.listenerCount('queryExecuted') === 0) return;
    const e: QueryExecutedEvent = {
      clusterId: plan.clusterId,
      nodeId: nodeIds[0] ?? '',
      ...(shardIds[0] !== undefined ? { shardId: shardIds[0] } : {}),
      shardIds: [...shardIds],
      nodeIds,
      role: 'primary',
      reason: 'cross-shard',
      kind: 'write',
      ...(plan.schema !== undefined ? { schema: plan.schema } : {}),
      durationMs: ms,
      duration: ms,
      ok: err === undefined,
      retried: false,
      sql: plan.sql,
      ...(err !== undefined ? { errorCode: (err as PgmError).sqlState ?? (err as PgmError).code ?? 'ERROR' } : {}),
    };
    this.emit('queryExecuted', e);
  }

  /** After a write committed: the cache forgets what it wrote (published on the written cluster's bus). */
  private invalidateWrite(plan: QueryPlan): Promise<number> {
    return this.cache!.invalidateWrites([{ schema: plan.schema, sql: plan.sql, clusterId: plan.clusterId }]);
  }

  /** A cacheable read through the cache. */
  private async queryCached<T>(
    router: Router,
    plan: QueryPlan,
    params: unknown[],
    options: QueryOptions,
    span: Span | undefined,
    shape: StatementShape | undefined,
  ): Promise<QueryResult<T>> {
    const t0 = performance.now();
    let hit = false;
    try {
      const cache = this.cache!;
      // The plan says which shard the read belongs to and what freshness it needs; an entry
      // (or a load in flight) that does not satisfy it is not served (see README: caching).
      const key = cache.keyFor({
        clusterId: plan.clusterId,
        schema: plan.schema,
        searchPath: plan.schema,
        // A result of another shape (rows as arrays, other type parsers) is another entry.
        sql: shape ? `${plan.sql}\u0000${shapeKey(shape)}` : plan.sql,
        params,
        cacheKey: options.cacheKey,
        // A cross-shard read is one entry over the shards it read.
        ...(plan.shardIds !== undefined
          ? { shard: plan.crossShard ? `${plan.clusterId}#${plan.shardIds.join('+')}` : plan.group }
          : {}),
      });
      const tags = cache.tagsFor({ schema: plan.schema, sql: plan.sql, tags: options.tags });
      const ttlMs = options.cacheTtl ?? this.options.cache?.ttl ?? 300_000;
      const r = await cache.wrap(
        key,
        { ttlMs, tags, schema: plan.schema, freshness: plan.freshness, originOf: originOfResult },
        // A fill records where its result came from (see "Cached reads and consistency").
        () => router.execute<T>(plan, params, shape ? { readOrigin: true, shape } : { readOrigin: true }),
      );
      hit = r.hit;
      const result = r.value as QueryResult<T>;
      this.metrics?.recordQuery(plan.clusterId, plan.kind, performance.now() - t0, true, hit);
      if (span) this.tracing!.endQuery(span, result, hit);
      return result;
    } catch (err) {
      throw this.queryFailed(err, plan, t0, span, hit);
    }
  }

  /**
   * Run `callback` in one transaction spanning the clusters that own
   * `schemas`. One cluster: BEGIN/COMMIT. Several: two-phase commit with a
   * durable decision (needs `enableTransactions`, the default).
   */
  async withTransaction<T>(
    schemas: string[],
    callback: TransactionCallback<T>,
    options: TransactionOptions = {},
  ): Promise<T> {
    const router = this.need();
    if (!Array.isArray(schemas) || schemas.length === 0) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        'withTransaction(schemas, fn): name at least one schema, e.g. ["users", "orders"]',
      );
    }
    const clusters = new Set(schemas.map((s) => router.resolveCluster(s)));
    if (clusters.size > 1 && this.options.enableTransactions === false) {
      throw new PgmError(
        'FEATURE_DISABLED',
        `withTransaction across clusters (${[...clusters].join(', ')}) needs enableTransactions: true; it was turned off, and a non-atomic commit across clusters is never done silently`,
      );
    }
    if (clusters.size > 1) {
      const off = [...clusters].find((c) => this.twoPhaseDisabled.has(c));
      if (off) {
        const e = this.twoPhaseDisabled.get(off)!;
        throw new PgmError('PREPARED_TRANSACTIONS_DISABLED', e.message, {
          clusterId: off,
          ...(e.details ? { details: e.details } : {}),
        });
      }
    }
    return this.transact(router, schemas, callback, options, true);
  }

  /**
   * One transaction through the manager, then its follow-up: cache invalidation of what it wrote,
   * holds on participants whose COMMIT PREPARED was left to recovery, session positions.
   * `observe`: report every statement (withTransaction); cross-shard writes and copyFrom report
   * one event for the whole statement themselves. `wrote`: clusters written outside `tx.query`
   * (copyFrom) whose session position must be noted too.
   */
  private async transact<T>(
    router: Router,
    schemas: string[],
    callback: TransactionCallback<T>,
    options: TransactionOptions,
    observe: boolean,
    wrote: readonly string[] = [],
  ): Promise<T> {
    const tm = this.tm;
    if (!tm) throw new PgmError('NOT_INITIALIZED', 'transactions are not ready');
    let txId: string | undefined;
    let result: T;
    // Every statement of the transaction (the callback's and the commit protocol's) is observed
    // by the router with this transaction's id (queryExecuted, metrics, spans).
    const observed: { transactionId?: string } = {};
    const run = () =>
      tm.withTransaction(
        schemas,
        (tx) => {
          txId = tx.id;
          observed.transactionId = tx.id;
          this.committedStatements.set(tx.id, { statements: [], pending: [] });
          // The callback runs in the transaction span's context: the application's own spans nest under it.
          return this.tracing ? this.tracing.inTransaction(tx.id, () => callback(tx)) : callback(tx);
        },
        options,
      );
    try {
      result = await (observe ? runWithStatementContext(observed, run) : run());
    } catch (err) {
      const e = redactError(err as Error, this.secrets);
      if (txId) {
        this.committedStatements.delete(txId);
        // Normally settled by the committed/rolled-back events already; not when the outcome is in doubt.
        this.twoPhaseStarted.delete(txId);
        this.tracing?.transactionUnsettled(txId, e);
      }
      throw e;
    }
    // Committed: now (and only now) the cache may forget what the transaction wrote, and a
    // read-your-writes session in scope learns the clusters' new WAL positions. Nothing here
    // may turn the commit into a rejection: a failure is reported as an 'error' event.
    const done = (txId ? this.committedStatements.get(txId) : undefined) ?? { statements: [], pending: [] };
    if (txId) this.committedStatements.delete(txId);
    this.holdPending(router, txId, done.pending);
    await this.afterCommit(router, txId, done.statements, wrote);
    return result;
  }

  /**
   * Participants whose COMMIT PREPARED was left to recovery hold the committed write invisible:
   * statements routed there wait until recovery has finished it (never a read around it).
   */
  private holdPending(router: Router, txId: string | undefined, pending: readonly string[]): void {
    const tm = this.tm!;
    for (const participant of pending) {
      const target = this.participantTargets.get(participant);
      if (!target) continue;
      router.holdUntil(target, async () => {
        // A few tries (the primary that failed the commit may be back in a moment); then the waiting
        // statements fail, and the next one tries again.
        let last = '';
        for (let attempt = 0; attempt < 5; attempt++) {
          if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
          const report = await tm.recover();
          if (report.ran && !report.failedClusters.includes(participant)) return;
          last = report.ran ? `it could not reach ${participant}` : (report.reason ?? 'it could not run');
        }
        throw new PgmError(
          'TRANSACTION_IN_DOUBT',
          `transaction ${txId ?? ''} committed; recovery has not finished it on ${participant} yet: ${last}`,
        );
      });
    }
  }

  /** Follow-up of a committed transaction: never throws (the commit stands whatever happens here). */
  private async afterCommit(
    router: Router,
    txId: string | undefined,
    statements: StatementRecord[],
    wrote: readonly string[] = [],
    session: SessionToken | undefined = router.currentSession(),
  ): Promise<void> {
    if (this.cache && statements.length > 0) {
      try {
        await this.cache.invalidateWrites(
          statements.map((s) => ({ schema: s.schema, sql: s.sql, clusterId: s.clusterId })),
        );
      } catch (err) {
        this.reportAfterCommit(txId, 'invalidate the cache', err);
      }
    }
    if (!session) return;
    for (const clusterId of new Set([...statements.map((s) => s.clusterId), ...wrote])) {
      try {
        // Marks the position unknown (reads there ask the primary first) when the primary cannot answer.
        await router.noteWrite(clusterId, undefined, session);
      } catch (err) {
        this.reportAfterCommit(txId, `note the write position on "${clusterId}"`, err);
      }
    }
  }

  /**
   * A committed transaction's follow-up failed: an `error` event for the application's listeners.
   * Never thrown, never an unhandled 'error' or a process warning: the commit resolved, and this
   * runs inside it (an `emit('error')` without a listener, or a listener that throws, would turn the
   * committed transaction into a rejection).
   */
  private reportAfterCommit(txId: string | undefined, what: string, err: unknown): void {
    const e = redactError(err as Error, this.secrets);
    const report = new PgmError(
      'POST_COMMIT_FAILED',
      `transaction ${txId ?? ''} committed, but could not ${what}: ${e.message}`,
      { cause: e, ...(txId ? { details: { id: txId } } : {}) },
    );
    // Our own listener (the constructor's) may have been removed (`removeAllListeners()`).
    if (this.listenerCount('error') === 0) return;
    try {
      this.emit('error', report);
    } catch {
      /* a listener threw: the commit stands */
    }
  }

  /**
   * A `pg.Pool`-compatible pool over this instance, for libraries built on node-postgres
   * (`drizzle({ client: pgm.pool() })`, `new PostgresDialect({ pool: pgm.pool() })`). Every
   * statement goes through `query()`'s path (routing, cache, metrics, events, tracing); a client
   * from `connect()` keeps a transaction on one primary session. See the README.
   */
  pool(options: RoutingPoolOptions = {}): RoutingPool {
    const router = this.need();
    const backend: PoolBackend = {
      query: (sql, params, options, route, shape) => this.runQuery(sql, params, options, route, shape, true),
      routeOptions: (options, defaultSchema) => {
        const r = routeOptions(options);
        if (defaultSchema !== undefined) r.defaultSchema = defaultSchema;
        return r;
      },
      analyze: (sql) => router.analyze(sql),
      plan: (sql, o, params) => router.plan(sql, o, params),
      primary: (clusterId, shardId) =>
        shardId === undefined ? router.primary(clusterId) : router.shardPrimary(clusterId, shardId),
      createSession: () => router.createSession(),
      currentSession: () => router.currentSession(),
      sessionLevelInUse: () =>
        Object.values(router.config.clusters).some((c) => c.consistencyLevel === 'session') ||
        Object.keys(router.schemas()).some((s) => router.schemaOptions(s)?.consistencyLevel === 'session'),
      committed: (clusterId, writes, token) =>
        this.afterCommit(
          router,
          undefined,
          writes.map((w) => ({ clusterId, schema: w.schema as string, sql: w.sql })),
          [clusterId],
          token,
        ),
      poolStats: () => {
        const total = { total: 0, idle: 0, waiting: 0 };
        for (const s of Object.values(router.poolStats())) {
          total.total += s.total;
          total.idle += s.idle;
          total.waiting += s.waiting;
        }
        return total;
      },
      onIdleError: (listener) => {
        const l = (e: PgMultiverseEvents['poolError']) => listener(e.error);
        this.on('poolError', l);
        return () => this.off('poolError', l);
      },
      redact: (err) => redactError(err, this.secrets),
    };
    return new RoutingPool(backend, options);
  }

  /**
   * `COPY table (columns) FROM STDIN` from a stream (text or CSV). On a cluster sharded over
   * listed servers each row goes to the shard its key column names, all shards loading in
   * parallel, in one transaction (two-phase commit when several shards take rows): a failure
   * anywhere leaves every shard unchanged. Resolves to the rows loaded per shard.
   */
  async copyFrom(
    table: string,
    columns: readonly string[],
    stream: CopyInput,
    options: CopyFromOptions,
  ): Promise<CopyFromResult> {
    const router = this.need();
    const schema = (options as Partial<CopyFromOptions> | undefined)?.schema;
    if (typeof schema !== 'string' || schema === '') {
      throw new PgmError(
        'INVALID_ARGUMENT',
        'copyFrom(table, columns, stream, { schema }): name the schema of the table',
      );
    }
    const clusterId = router.resolveCluster(schema);
    const cluster = router.config.clusters[clusterId]!;
    const shards = cluster.sharding?.shards ?? [];
    if (shards.length > 1)
      this.checkTwoPhase(
        shards.map((s) => locationOf({ cluster: clusterId, shard: s.id })),
        'copyFrom on a cluster sharded over several servers',
      );
    const t0 = performance.now();
    const observed = { clusterId, schema, sql: `COPY ${quoteIdent(table)} FROM STDIN` };
    const listed = shards.length > 1 ? shards.map((s) => s.id) : [];
    try {
      // Its statements are not reported one by one: one event for the whole COPY (observeCopy).
      const result = await copyFrom(
        { router, cluster, transaction: (fn) => this.transact(router, [schema], fn, {}, false, [clusterId]) },
        table,
        columns,
        stream,
        options,
      );
      if (this.cache && result.rowCount > 0) {
        await this.cache
          .invalidateWrites([observed])
          .catch((err) => this.reportAfterCommit(undefined, 'invalidate the cache after copyFrom', err));
      }
      this.observeCopy(router, observed, listed, t0);
      return result;
    } catch (err) {
      const e = redactError(err as Error, this.secrets);
      this.observeCopy(router, observed, listed, t0, e);
      throw e;
    }
  }

  /** `copyFrom` is counted like a write: on a sharded cluster as a cross-shard one, with its shards. */
  private observeCopy(
    router: Router,
    observed: { clusterId: string; schema: string; sql: string },
    shardIds: readonly string[],
    t0: number,
    err?: Error,
  ): void {
    if (shardIds.length > 0) {
      this.observeCrossShardWrite(router, { ...observed }, shardIds, t0, err);
      return;
    }
    this.metrics?.recordQuery(observed.clusterId, 'write', performance.now() - t0, err === undefined, false);
  }

  /**
   * A write that needs the two-phase commit over `participants`: refused when transactions are
   * off (`FEATURE_DISABLED`) or a participant has `max_prepared_transactions = 0`.
   */
  private checkTwoPhase(participants: readonly string[], what: string): void {
    if (this.options.enableTransactions === false) {
      throw new PgmError(
        'FEATURE_DISABLED',
        `${what} commits on ${participants.join(', ')} by two-phase commit, which needs enableTransactions: true; it was turned off, and a non-atomic commit is never done silently`,
      );
    }
    const off = participants.find((p) => this.twoPhaseDisabled.has(p));
    if (off) {
      const e = this.twoPhaseDisabled.get(off)!;
      throw new PgmError('PREPARED_TRANSACTIONS_DISABLED', e.message, {
        clusterId: this.participantTargets.get(off)?.clusterId ?? off,
        ...(e.details ? { details: e.details } : {}),
      });
    }
  }

  /** Create a read-your-writes session token (see `QueryOptions.sessionToken`). */
  createSession(): SessionToken {
    return this.need().createSession();
  }

  /** Run `fn` with a read-your-writes session in scope (AsyncLocalStorage). */
  runWithSession<T>(fn: () => Promise<T>, token?: SessionToken): Promise<T> {
    const router = this.need();
    return router.runWithSession(token ?? router.createSession(), fn);
  }

  /**
   * Finish in-doubt cross-cluster transactions now instead of waiting for the
   * recovery timer: this instance's prepared transactions are committed or
   * rolled back as the decision table says (see `@pg-multiverse/tx`). Never
   * rejects for a database problem: an unreachable cluster is in the report.
   */
  async recover(): Promise<RecoveryReport> {
    this.need();
    const tm = this.tm;
    if (!tm) throw new PgmError('NOT_INITIALIZED', 'transactions are not ready');
    const report = await tm.recover();
    if (report.reason !== undefined) report.reason = redactSecrets(report.reason, this.secrets);
    return report;
  }

  // ---- partition moves (sharded clusters) ----------------------------------------------------

  private needReshard(): Reshard {
    const router = this.need();
    if (!this.reshard) {
      this.reshard = createReshard(
        reshardEnvironment(
          router,
          () => this.mm,
          (fn) => runWithStatementContext({}, fn),
        ),
      );
      this.forward(this.reshard, RESHARD_EVENTS);
    }
    return this.reshard;
  }

  private async redacting<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw err instanceof Error ? redactError(err, this.secrets) : err;
    }
  }

  /**
   * Move partitions of a sharded cluster to another listed shard, online: copy by logical
   * replication, a bounded hold of their writes at the cutover, a new partition map version,
   * cleanup. See `@pg-multiverse/reshard` for every step and guarantee.
   */
  async movePartitions(options: MovePartitionsOptions): Promise<MoveReport> {
    const r = this.needReshard();
    return this.redacting(() => r.movePartitions(options));
  }

  /** Spread the partitions of a sharded cluster evenly over `servers` (`dryRun`: only the plan). */
  async rebalance(options: RebalanceOptions & { cluster: string }): Promise<RebalanceReport> {
    const r = this.needReshard();
    return this.redacting(() => r.rebalance(options));
  }

  /** Finish or roll back the moves of a cluster that a crash interrupted. */
  async recoverMoves(options: { cluster: string; cleanupDelayMs?: number }): Promise<RecoveredMove[]> {
    const r = this.needReshard();
    return this.redacting(() => r.recoverMoves(options));
  }

  /** Delete the rows moves kept on their sources (`keepSource`). */
  async cleanupMovedPartitions(options: {
    cluster: string;
    batchSize?: number;
  }): Promise<{ deleted: number; byShard: Record<string, number> }> {
    const r = this.needReshard();
    return this.redacting(() => r.cleanupMovedPartitions(options));
  }

  // ---- migrations -------------------------------------------------------------------------

  private needMigrations(): MigrationManager {
    this.need();
    if (!this.mm) {
      throw new PgmError(
        'FEATURE_DISABLED',
        'migrations are off: pass { enableMigrations: true } to new PgMultiverse()',
      );
    }
    return this.mm;
  }

  /** Run pending migrations on every (cluster, schema) target. */
  async migrate(options?: MigrationExecutionOptions): Promise<MigrationRunResult> {
    const mm = this.needMigrations();
    // Its statements are observed like queries (queryExecuted with reason `session`, metrics, spans).
    return runWithStatementContext({}, () => mm.migrate(options));
  }

  /** Undo applied migrations (`{ steps }` or `{ targetVersion }`). */
  async rollback(options?: MigrationRollbackOptions): Promise<MigrationRunResult> {
    const mm = this.needMigrations();
    return runWithStatementContext({}, () => mm.rollback(options));
  }

  /** Totals, `bySchema` and `byCluster`. */
  async getMigrationStatus(): Promise<MigrationStatus> {
    return this.needMigrations().getStatus();
  }

  /** Write a new migration file from a template; returns its path. */
  async createMigration(name: string, options: MigrationCreateOptions = {}): Promise<string> {
    return this.needMigrations().createMigration(name, options);
  }

  getMigrations(): Migration[] {
    return this.needMigrations().getMigrations();
  }

  addMigration(migration: Migration): void {
    this.needMigrations().addMigration(migration);
  }

  getMigrationManager(): MigrationManager {
    return this.needMigrations();
  }

  // ---- health, metrics, cache ----------------------------------------------------------------

  /** Probe every node now. */
  async healthCheck(): Promise<Record<string, ClusterHealth>> {
    return this.need().healthCheck();
  }

  /** Counted figures (`enableMetrics`, on by default), or the Prometheus text format. */
  getMetrics(): SystemMetrics;
  getMetrics(options: { format: 'prometheus' }): string;
  getMetrics(options: { format: 'json' }): SystemMetrics;
  getMetrics(options?: { format?: 'json' | 'prometheus' }): SystemMetrics | string {
    const router = this.need();
    if (!this.metrics) {
      throw new PgmError(
        'FEATURE_DISABLED',
        'metrics are off: pass { enableMetrics: true } (the default) to new PgMultiverse()',
      );
    }
    let cache: CacheMetrics | undefined;
    if (this.cache) {
      const s = this.cache.stats();
      cache = {
        hitRate: s.hitRate,
        hits: s.hits,
        misses: s.misses,
        staleHits: s.staleHits,
        itemCount: s.itemCount,
        bytes: s.bytes ?? 0,
        evictions: s.evictions,
      };
    }
    if (options?.format === 'prometheus') {
      const tx = this.tm?.metrics();
      return renderPrometheus(this.metrics, {
        nodes: router.nodeStates(),
        poolMax: new Map([...this.nodes].map(([k, n]) => [k, n.poolMax])),
        cache,
        transactions: tx ? { active: tx.active, oldestPreparedAgeMs: tx.oldestPreparedAgeMs } : undefined,
      });
    }
    return this.metrics.snapshot(router.clusterIds(), router.poolStats(), cache, this.tm?.metrics());
  }

  /**
   * A `node:http` request handler that serves `getMetrics({ format: 'prometheus' })` for
   * Prometheus to scrape: `http.createServer(pgm.metricsHandler())`, Express
   * `app.get('/metrics', pgm.metricsHandler())`, Fastify `(req, reply) => handler(req.raw, reply.raw)`.
   * Throws `FEATURE_DISABLED` when metrics are off.
   */
  metricsHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    if (this.options.enableMetrics === false) {
      throw new PgmError(
        'FEATURE_DISABLED',
        'metrics are off: pass { enableMetrics: true } (the default) to new PgMultiverse()',
      );
    }
    return prometheusHandler(() => this.getMetrics({ format: 'prometheus' }));
  }

  /** Drop cached results by schema, tags or keys. Resolves to the number removed. */
  async invalidateCache(criteria: InvalidationCriteria): Promise<number> {
    this.need();
    if (!this.cache) return 0;
    if (!criteria || (criteria.schema === undefined && !criteria.tags?.length && !criteria.keys?.length)) {
      throw new PgmError('INVALID_ARGUMENT', 'invalidateCache(criteria): give schema, tags or keys');
    }
    return this.cache.invalidate(criteria);
  }

  /** Route `schema` to `clusterId` from now on. */
  registerSchema(schema: string, clusterId: string, options: SchemaOptions = {}): void {
    this.need().registerSchema(schema, clusterId, options);
  }

  /** Stop monitors and timers, close every pool. The process can exit right after. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const steps: Promise<unknown>[] = [];
    if (this.mm) steps.push(this.mm.close());
    if (this.tm) steps.push(this.tm.close());
    if (this.cache) steps.push(this.cache.close());
    await Promise.allSettled(steps);
    if (this.router) await this.router.close();
  }
}

/** The code a failed query is counted under: its SQLSTATE, else its error code. */
function errorCodeOf(err: Error): string {
  const e = err as { sqlState?: unknown; code?: unknown };
  if (typeof e.sqlState === 'string') return e.sqlState;
  return typeof e.code === 'string' && e.code !== '' ? e.code : 'UNKNOWN';
}

/** A statement's promise, rejecting as node-postgres does when `pgErrors` (the pool's; see `toPgError`). */
function pgErrorsOf<T>(p: Promise<T>, pgErrors: boolean): Promise<T> {
  return pgErrors
    ? p.catch((err: unknown) => {
        throw toPgError(err);
      })
    : p;
}

const typesIds = new WeakMap<object, number>();
let nextTypesId = 0;

/** The part of a cache key that tells result shapes apart (custom type parsers by identity). */
function shapeKey(shape: StatementShape): string {
  let types = '';
  if (shape.types !== undefined) {
    let id = typesIds.get(shape.types);
    if (id === undefined) typesIds.set(shape.types, (id = ++nextTypesId));
    types = `t${id}`;
  }
  return `${shape.rowMode ?? ''}/${types}`;
}

/** The shards a cross-shard write ran on (planned ones when it failed before splitting). */
function shardsOf(plan: QueryPlan, writes: readonly ShardWrite[]): string[] {
  return writes.length > 0 ? writes.map((w) => w.shardId) : [...(plan.shardIds ?? [])];
}

function originOfResult(value: unknown): ResultOrigin | undefined {
  return (value as { route?: { origin?: ResultOrigin } } | undefined)?.route?.origin;
}

function routeOptions(o: QueryOptions): RouteOptions {
  const r: RouteOptions = {};
  if (o.schema !== undefined) r.schema = o.schema;
  if (o.role !== undefined) r.role = o.role;
  if (o.consistency !== undefined) r.consistency = o.consistency;
  if (o.maxLagMs !== undefined) r.maxLagMs = o.maxLagMs;
  if (o.shardKey !== undefined) r.shardKey = o.shardKey;
  if (o.allowPartial !== undefined) r.allowPartial = o.allowPartial;
  if (o.sessionToken !== undefined) r.sessionToken = o.sessionToken;
  return r;
}

/**
 * `initialize()` input: a configuration object; a `postgres://` URL (one cluster `default` owning
 * `public`, so queries without a schema go there); or a path of a configuration file.
 */
async function loadConfiguration(input: ClusterConfiguration | string): Promise<ClusterConfiguration> {
  if (typeof input !== 'string') return input;
  if (/^postgres(ql)?:\/\//i.test(input)) return { default: { schemas: ['public'], primary: input } };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) {
    throw new PgmError(
      'INVALID_CONFIG',
      `initialize(string): a string is a postgres:// connection URL or the path of a configuration file; ${input.replace(/\/\/([^:/@]*):[^@]*@/, '//$1:***@')} is neither`,
    );
  }
  let mod: unknown;
  try {
    mod = await importModule(input);
  } catch (err) {
    throw new PgmError(
      'INVALID_CONFIG',
      `could not load the configuration file ${input} (a string given to initialize() is a postgres:// URL or the path of a .json/.js/.mjs/.ts file): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  const obj = mod as Record<string, unknown>;
  if (obj && typeof obj === 'object' && 'clusters' in obj && typeof obj.clusters === 'object') {
    // The `pgm.config.*` shape: clusters plus facade options (those apply through new PgMultiverse(options)).
    const issues: ConfigIssue[] = [];
    checkPgMultiverseOptions(obj, '', issues, ['clusters']);
    if (issues.length > 0) throw new ConfigError(issues);
    return obj.clusters as ClusterConfiguration;
  }
  return obj as ClusterConfiguration;
}
