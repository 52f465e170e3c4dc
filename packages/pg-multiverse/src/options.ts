import type {
  CacheOptions,
  ClusterMonitorOptions,
  ConnectionProvider,
  ConsistencyLevel,
  LoadBalancingConfig,
  PoolOptions,
} from '@pg-multiverse/core';
import type { MigrationManagerOptions } from '@pg-multiverse/migrate';
import type { RouterOptions, SessionToken } from '@pg-multiverse/router';
import type { QueryTracer } from './tracing.js';

/** Options of `new PgMultiverse(options)` (the documented `MultiClusterConfig`). */
export interface PgMultiverseOptions {
  /** Cache query results (`query(..., { cache: true })`). Default false. */
  enableCache?: boolean;
  /** Count queries, errors, latency, pool and cache figures for `getMetrics()`. Default true. */
  enableMetrics?: boolean;
  /** Allow `withTransaction` across clusters (two-phase commit). Default true. */
  enableTransactions?: boolean;
  /** Allow the migration methods. Default false. */
  enableMigrations?: boolean;
  /**
   * Start without connecting (for apps that must start before their databases):
   * `initialize()` then skips the connection check of every node, the
   * `max_prepared_transactions` check and the first recovery run. Default false:
   * a primary that cannot be reached or authenticated fails `initialize()`.
   */
  lazyConnect?: boolean;
  /** Cache options; `notify` (default true with the memory store) broadcasts invalidations to other instances with LISTEN/NOTIFY. */
  cache?: CacheOptions & { notify?: boolean };
  /** Migration options (see `@pg-multiverse/migrate`). */
  migrations?: Omit<MigrationManagerOptions, 'clusters' | 'primary'>;
  /** Health monitoring. */
  cluster?: ClusterMonitorOptions;
  /** Default load balancing for every cluster (a cluster's own `loadBalancing` wins). */
  loadBalancing?: LoadBalancingConfig;
  /** Default pool options for every node (a cluster's own `connectionPool` wins). */
  connectionPool?: PoolOptions;
  /** Cross-cluster transaction settings. */
  transactions?: {
    /** Cluster whose primary stores commit decisions. Default: the first cluster. */
    coordinatorClusterId?: string;
    /** How often `recover()` runs in the background, ms. Default 30000; 0 disables. */
    recoveryIntervalMs?: number;
    /** Prepared transactions without a decision older than this are rolled back by recovery, ms. Default 60000. */
    safeAgeMs?: number;
  };
  /** Use existing pools: `'users_cluster/primary'` -> a `pg.Pool` or a `ConnectionProvider`. */
  providers?: Record<string, ConnectionProvider | import('pg').Pool>;
  /**
   * OpenTelemetry spans (see README "OpenTelemetry"). Default: on when the optional peer
   * `@opentelemetry/api` is installed (spans go to its global tracer provider, a no-op until
   * the application registers an SDK), off otherwise. `true` requires the package
   * (`TRACING_UNAVAILABLE` at `initialize()` without it); `false` turns spans off.
   */
  tracing?: boolean;
  /**
   * The OpenTelemetry `Tracer` to use instead of the global provider's
   * (`provider.getTracer('pg-multiverse')`). Needs `@opentelemetry/api` (for span contexts).
   */
  tracer?: QueryTracer;
  /** Cluster for queries without a schema (router option `defaultCluster`). Default: the only cluster, if one. */
  defaultCluster?: RouterOptions['defaultCluster'];
  /**
   * Functions whose call makes a statement a write, routed to the primary (router option
   * `writeFunctions`, e.g. `['app.bump', 'audit_*']`): `SELECT app.bump()` then goes to the primary.
   */
  writeFunctions?: RouterOptions['writeFunctions'];
}

/** Options of `query()`. */
export interface QueryOptions {
  /** Schema the query is for; routes to the cluster that owns it and puts it first on the search_path. */
  schema?: string;
  /** Cache the result (reads only). Needs `enableCache`. */
  cache?: boolean;
  /** Time to live of the cached result, ms. Default `cache.ttl`. */
  cacheTtl?: number;
  /** Your own cache key instead of the digest of cluster, schema, SQL and parameters. */
  cacheKey?: string;
  /** Tags for bulk invalidation (`invalidateCache({ tags })`). */
  tags?: string[];
  /** Override the cluster's consistency level for this read. */
  consistency?: ConsistencyLevel;
  /** Max replica lag for `bounded` reads, ms. */
  maxLagMs?: number;
  /** Force the primary or a replica. */
  role?: 'primary' | 'replica';
  /**
   * Shard key for hash-sharded clusters: picks the shard and wins over the key found in the SQL.
   * Without it the key is looked for in the SQL (`WHERE user_id = $1`, ...); a statement whose key
   * cannot be determined runs on every shard (cross-shard; see the router README).
   */
  shardKey?: unknown;
  /**
   * Cross-shard reads: when a shard cannot answer, return the other shards' rows with
   * `result.route.partial: true` and `route.failedShards` instead of failing. Default false.
   * Such results are never cached.
   */
  allowPartial?: boolean;
  /**
   * Writes on several shards (no single shard key): `true` (the default) commits them together by
   * two-phase commit, one participant per shard, so a failure on any shard leaves every shard
   * unchanged; `false` commits each shard's statement in its own transaction (no prepared
   * transactions; a failure reports which shards committed in `err.details.committedShards`).
   */
  atomic?: boolean;
  /** Read-your-writes token (see `createSession()`). */
  sessionToken?: SessionToken;
}

/** `invalidateCache(criteria)`. */
export interface InvalidationCriteria {
  schema?: string;
  tags?: string[];
  keys?: string[];
}
