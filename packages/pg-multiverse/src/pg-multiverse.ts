import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { createQueryCache, type QueryCache } from '@pg-multiverse/cache';
import {
  type ClusterConfiguration,
  collectSecrets,
  type NodeConfig,
  PgmError,
  type QueryResult,
  redactError,
  type SchemaOptions,
  validateConfiguration,
} from '@pg-multiverse/core';
import {
  importModule,
  type Migration,
  type MigrationCreateOptions,
  MigrationManager,
  type MigrationRollbackOptions,
  type MigrationRunOptions,
  type MigrationRunResult,
  type MigrationStatus,
} from '@pg-multiverse/migrate';
import { classifySql, createRouter, type Router } from '@pg-multiverse/router';
import { createTransactionManager, type TransactionManager, type TransactionOptions } from '@pg-multiverse/tx';
import type { PgMultiverseEvents } from './events.js';
import { type CacheMetrics, MetricsCollector, type SystemMetrics, toPrometheus } from './metrics.js';
import type { InvalidationCriteria, PgMultiverseOptions, QueryOptions } from './options.js';
import { SPAN_STATUS_ERROR } from './tracing.js';

/** What `withTransaction`'s callback receives. */
export interface TransactionContext {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], options?: { schema?: string }): Promise<QueryResult<T>>;
  savepoint<T>(fn: () => Promise<T>): Promise<T>;
}

export type TransactionCallback<T> = (tx: TransactionContext) => Promise<T>;

/** Per-cluster result of `healthCheck()`. */
export interface ClusterHealth {
  healthy: boolean;
  /** ms of the slowest successful probe of the cluster's nodes. */
  responseTime: number;
  error?: string;
  failureCount: number;
  nodes: Record<string, NodeHealth>;
}

export interface NodeHealth {
  healthy: boolean;
  role: 'primary' | 'replica';
  responseTime: number;
  lagBytes?: number;
  lagMs?: number;
  error?: string;
  failureCount: number;
}

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
  private metrics: MetricsCollector | undefined;
  private secrets: string[] = [];
  private schemaOptions = new Map<string, SchemaOptions>();
  private closed = false;
  private initializing: Promise<void> | undefined;

  constructor(options: PgMultiverseOptions = {}) {
    super();
    this.options = options;
    // An EventEmitter throws on an unhandled 'error' event; our 'error' is informational.
    this.on('error', () => {});
  }

  /** Typed `on`. */
  override on<K extends EventName>(event: K, listener: (payload: PgMultiverseEvents[K]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this {
    return super.on(event, listener);
  }

  /**
   * Connect to every cluster: validate the configuration (an object, or a path
   * to a `.json`/`.js`/`.mjs`/`.ts` file exporting one), open pools, probe
   * every node, recover in-doubt transactions and load migrations.
   */
  async initialize(config: ClusterConfiguration | string): Promise<void> {
    if (this.closed) throw new PgmError('CLOSED', 'initialize() called after close(); create a new PgMultiverse');
    if (this.initializing) throw new PgmError('ALREADY_INITIALIZED', 'initialize() was already called on this instance');
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
    this.secrets = collectSecrets(
      Object.values(normalized.clusters).flatMap((c) => [c.primary, ...c.replicas].map((n) => n.connection as NodeConfig)),
    );
    const metricsOn = o.enableMetrics !== false;
    if (metricsOn) this.metrics = new MetricsCollector();

    const router = createRouter(config, {
      ...(o.cluster ? { monitor: o.cluster } : {}),
      ...(o.loadBalancing ? { loadBalancing: o.loadBalancing } : {}),
      ...(o.connectionPool ? { connectionPool: o.connectionPool } : {}),
      ...(o.providers ? { providers: o.providers } : {}),
    });
    this.router = router;
    this.forward(router, [
      'nodeDown',
      'nodeUp',
      'clusterDown',
      'clusterRecovered',
      'roleChanged',
      'replicaLagging',
      'readFallback',
      'splitBrain',
      'error',
    ]);
    const metrics = this.metrics;
    router.on('queryExecuted', (e: PgMultiverseEvents['queryExecuted']) => {
      if (metrics) metrics.recordNode(e.clusterId, e.nodeId, e.durationMs, e.ok);
      if (this.listenerCount('queryExecuted') > 0) this.emit('queryExecuted', { ...e, duration: e.durationMs });
    });
    await router.start();

    if (o.enableCache) {
      const c = o.cache ?? {};
      this.cache = createQueryCache({
        ...(c.store ? { store: c.store } : {}),
        ...(c.maxSize !== undefined ? { maxSize: c.maxSize } : {}),
        ...(c.maxBytes !== undefined ? { maxBytes: c.maxBytes } : {}),
        ...(c.ttl !== undefined ? { ttl: c.ttl } : {}),
        ...(c.enableCompression !== undefined ? { enableCompression: c.enableCompression } : {}),
        ...(c.compressionThreshold !== undefined ? { compressionThreshold: c.compressionThreshold } : {}),
        ...(c.swrMs !== undefined ? { swrMs: c.swrMs } : {}),
      });
      this.forward(this.cache, ['cacheHit', 'cacheMiss', 'cacheStale', 'cacheInvalidated', 'cacheEvicted', 'cacheError']);
      if (!c.store && c.notify !== false) {
        await this.cache.attachNotify(Object.keys(normalized.clusters).map((id) => router.primary(id)));
      }
    }

    const t = o.transactions ?? {};
    this.tm = createTransactionManager({
      resolveCluster: (schema: string) => router.resolveCluster(schema),
      primary: (clusterId: string) => router.primary(clusterId),
      clusterIds: () => Object.keys(normalized.clusters),
      ...(t.coordinatorClusterId ? { coordinatorClusterId: t.coordinatorClusterId } : {}),
      recoveryIntervalMs: o.enableTransactions === false ? 0 : (t.recoveryIntervalMs ?? 30_000),
      ...(t.safeAgeMs !== undefined ? { safeAgeMs: t.safeAgeMs } : {}),
    });
    this.forward(this.tm, ['transactionStarted', 'transactionCommitted', 'transactionRolledBack', 'transactionRecovered']);
    if (metrics) {
      this.tm.on('transactionStarted', () => metrics.tx.started++);
      this.tm.on('transactionCommitted', (e: { twoPhase?: boolean }) => {
        metrics.tx.committed++;
        if (e.twoPhase) metrics.tx.twoPhase++;
      });
      this.tm.on('transactionRolledBack', () => metrics.tx.rolledBack++);
      this.tm.on('transactionRecovered', () => metrics.tx.recovered++);
    }
    if (o.enableTransactions !== false && Object.keys(normalized.clusters).length > 1) {
      await this.tm.preflight(Object.keys(normalized.clusters));
      await this.tm.recover();
    }

    if (o.enableMigrations) {
      this.mm = new MigrationManager({
        ...(o.migrations ?? {}),
        clusters: config,
        primary: (clusterId: string) => router.primary(clusterId),
      });
      this.forward(this.mm, ['migrationStarted', 'migrationCompleted', 'migrationFailed']);
      await this.mm.initialize();
    }
  }

  private forward(source: EventEmitter, events: readonly string[]): void {
    for (const name of events) source.on(name, (payload: unknown) => this.emit(name, payload));
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
  async query<T = Record<string, unknown>>(sql: string, params: unknown[] = [], options: QueryOptions = {}): Promise<QueryResult<T>> {
    const router = this.need();
    if (typeof sql !== 'string' || sql.trim() === '') {
      throw new PgmError('INVALID_ARGUMENT', 'query(sql): sql must be a non-empty string');
    }
    if (!Array.isArray(params)) throw new PgmError('INVALID_ARGUMENT', 'query(sql, params): params must be an array');
    const t0 = performance.now();
    const kind = classifySql(sql);
    const clusterId = router.resolveCluster(options.schema, options.shardKey);
    const span = this.options.tracer?.startSpan('pgm.query', {
      attributes: { 'db.system': 'postgresql', 'db.statement': sql, 'pgm.cluster': clusterId, 'pgm.schema': options.schema ?? '' },
    });
    const routeOpts = routeOptions(options);
    let cached = false;
    try {
      let result: QueryResult<T>;
      const cacheIt =
        this.cache !== undefined &&
        kind === 'read' &&
        (options.cache === true ||
          (options.cache !== false && options.schema !== undefined && this.schemaOptions.get(options.schema)?.cacheStrategy === 'aggressive'));
      if (cacheIt && this.cache) {
        const cache = this.cache;
        const key = cache.keyFor({
          clusterId,
          schema: options.schema,
          searchPath: options.schema,
          sql,
          params,
          cacheKey: options.cacheKey,
        });
        const tags = cache.tagsFor({ schema: options.schema, sql, tags: options.tags });
        const ttlMs = options.cacheTtl ?? this.options.cache?.ttl ?? 300_000;
        const r = await cache.wrap(key, { ttlMs, tags, schema: options.schema }, () => router.query<T>(sql, params, routeOpts));
        result = r.value as QueryResult<T>;
        cached = r.hit;
      } else {
        result = await router.query<T>(sql, params, routeOpts);
        if (kind === 'write' && this.cache) await this.cache.invalidateWrites([{ schema: options.schema, sql }]);
      }
      const ms = performance.now() - t0;
      this.metrics?.recordQuery(clusterId, kind, ms, true, cached);
      if (span) {
        const route = (result as { route?: { nodeId?: string; role?: string } }).route;
        span.setAttribute('pgm.cached', cached);
        if (route?.nodeId) span.setAttribute('pgm.node', route.nodeId);
        if (route?.role) span.setAttribute('pgm.role', route.role);
        span.end();
      }
      return result;
    } catch (err) {
      this.metrics?.recordQuery(clusterId, kind, performance.now() - t0, false, cached);
      const e = redactError(err as Error, this.secrets);
      if (span) {
        span.recordException?.(e);
        span.setStatus?.({ code: SPAN_STATUS_ERROR, message: e.message });
        span.end();
      }
      throw e;
    }
  }

  /**
   * Run `callback` in one transaction spanning the clusters that own
   * `schemas`. One cluster: BEGIN/COMMIT. Several: two-phase commit with a
   * durable decision (needs `enableTransactions`, the default).
   */
  async withTransaction<T>(schemas: string[], callback: TransactionCallback<T>, options: TransactionOptions = {}): Promise<T> {
    const router = this.need();
    if (!Array.isArray(schemas) || schemas.length === 0) {
      throw new PgmError('INVALID_ARGUMENT', 'withTransaction(schemas, fn): name at least one schema, e.g. ["users", "orders"]');
    }
    const clusters = new Set(schemas.map((s) => router.resolveCluster(s)));
    if (clusters.size > 1 && this.options.enableTransactions === false) {
      throw new PgmError(
        'FEATURE_DISABLED',
        `withTransaction across clusters (${[...clusters].join(', ')}) needs enableTransactions: true; it was turned off, and a non-atomic commit across clusters is never done silently`,
      );
    }
    const tm = this.tm;
    if (!tm) throw new PgmError('NOT_INITIALIZED', 'transactions are not ready');
    try {
      return await tm.withTransaction(schemas, callback as never, options);
    } catch (err) {
      throw redactError(err as Error, this.secrets);
    }
  }

  /** Create a read-your-writes session token (see `QueryOptions.sessionToken`). */
  createSession(): unknown {
    return this.need().createSession();
  }

  /** Run `fn` with a read-your-writes session in scope (AsyncLocalStorage). */
  runWithSession<T>(fn: () => Promise<T>, token?: unknown): Promise<T> {
    return this.need().runWithSession(token ?? this.need().createSession(), fn);
  }

  // ---- migrations -------------------------------------------------------------------------

  private needMigrations(): MigrationManager {
    this.need();
    if (!this.mm) {
      throw new PgmError('FEATURE_DISABLED', 'migrations are off: pass { enableMigrations: true } to new PgMultiverse()');
    }
    return this.mm;
  }

  /** Run pending migrations on every (cluster, schema) target. */
  migrate(options?: MigrationRunOptions): Promise<MigrationRunResult> {
    return this.needMigrations().migrate(options);
  }

  /** Undo applied migrations (`{ steps }` or `{ targetVersion }`). */
  rollback(options?: MigrationRollbackOptions): Promise<MigrationRunResult> {
    return this.needMigrations().rollback(options);
  }

  /** Totals, `bySchema` and `byCluster`. */
  getMigrationStatus(): Promise<MigrationStatus> {
    return this.needMigrations().getStatus();
  }

  /** Write a new migration file from a template; returns its path. */
  createMigration(name: string, options: MigrationCreateOptions = {}): Promise<string> {
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
    return (await this.need().healthCheck()) as Record<string, ClusterHealth>;
  }

  /** Counted figures (`enableMetrics`, on by default), or the Prometheus text format. */
  getMetrics(): SystemMetrics;
  getMetrics(options: { format: 'prometheus' }): string;
  getMetrics(options: { format: 'json' }): SystemMetrics;
  getMetrics(options?: { format?: 'json' | 'prometheus' }): SystemMetrics | string {
    const router = this.need();
    if (!this.metrics) {
      throw new PgmError('FEATURE_DISABLED', 'metrics are off: pass { enableMetrics: true } (the default) to new PgMultiverse()');
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
    const m = this.metrics.snapshot(Object.keys(router.schemasByCluster()), router.poolStats(), cache);
    return options?.format === 'prometheus' ? toPrometheus(m) : m;
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
    this.schemaOptions.set(schema, options);
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

function routeOptions(o: QueryOptions): Record<string, unknown> {
  const r: Record<string, unknown> = {};
  if (o.schema !== undefined) r.schema = o.schema;
  if (o.role !== undefined) r.role = o.role;
  if (o.consistency !== undefined) r.consistency = o.consistency;
  if (o.maxLagMs !== undefined) r.maxLagMs = o.maxLagMs;
  if (o.shardKey !== undefined) r.shardKey = o.shardKey;
  if (o.sessionToken !== undefined) r.sessionToken = o.sessionToken;
  return r;
}

async function loadConfiguration(input: ClusterConfiguration | string): Promise<ClusterConfiguration> {
  if (typeof input !== 'string') return input;
  let mod: unknown;
  try {
    mod = await importModule(input);
  } catch (err) {
    throw new PgmError('INVALID_CONFIG', `could not load the configuration file ${input}: ${(err as Error).message}`, { cause: err });
  }
  const obj = mod as Record<string, unknown>;
  if (obj && typeof obj === 'object' && 'clusters' in obj && typeof obj.clusters === 'object') {
    return obj.clusters as ClusterConfiguration;
  }
  return obj as ClusterConfiguration;
}
