/**
 * Configuration types shared by every pg-multiverse package.
 *
 * A *cluster* is one primary plus zero or more streaming replicas and owns a
 * set of schemas. A `ClusterConfiguration` maps cluster ids to clusters.
 */

/** How to reach one PostgreSQL server. Either fields or a connection string. */
export interface NodeConnectionConfig {
  /** Stable id of this node, unique in its cluster. Default: `primary`, `replica-1`, `replica-2`, ... */
  id?: string;
  /** `postgres://user:pass@host:port/db?sslmode=...`. Fields below override parts of it. */
  connectionString?: string;
  host?: string;
  /** TCP port, default 5432. */
  port?: number;
  database?: string;
  user?: string;
  /** Never printed: errors, logs and metrics show `***`. */
  password?: string | (() => string | Promise<string>);
  /** Passed through to `pg` (`true`, or a `tls.ConnectionOptions`). */
  ssl?: boolean | Record<string, unknown>;
  /** Relative weight for the `weighted` and `health_aware` balancers (replicas). Default 1. */
  weight?: number;
  /** Per-node pool overrides. */
  pool?: PoolOptions;
  /** Application name reported to PostgreSQL. Default `pg-multiverse`. */
  applicationName?: string;
  /** Server options sent at connect (pg's `options`), e.g. `'-c lock_timeout=5s -c search_path=app'`. */
  options?: string;
  /** TCP keep-alive on the connections (pg's `keepAlive`). Default false. */
  keepAlive?: boolean;
  /** Delay before the first keep-alive probe, ms (pg's `keepAliveInitialDelayMillis`). */
  keepAliveInitialDelayMillis?: number;
}

/** A node: a connection object or a connection string. */
export type NodeConfig = NodeConnectionConfig | string;

/** Pool options (documented as `connectionPool`). */
export interface PoolOptions {
  /** Connections kept open (and warmed when `warmupConnections`). Default 0. */
  min?: number;
  /** Maximum connections per node. Default 10. */
  max?: number;
  /** Open `min` connections at initialize. Default false. */
  warmupConnections?: boolean;
  /** Close idle connections after this many ms. Default 10000. */
  idleTimeoutMillis?: number;
  /** Give up connecting after this many ms. Default 5000. */
  connectionTimeoutMillis?: number;
  /** PostgreSQL `statement_timeout` in ms for every connection. Default none. */
  statementTimeout?: number;
  /** Client-side query timeout in ms (pg's `query_timeout`). Default none. */
  queryTimeout?: number;
}

/** Where reads go by default. */
export type ReadPreference = 'primary' | 'replica' | 'any';

/**
 * Consistency of a read:
 * - `strong`: primary only.
 * - `session`: read-your-writes; replicas only once they replayed the caller's last write.
 * - `bounded`: replicas whose lag is at most `maxLagMs`.
 * - `eventual`: any healthy replica.
 */
export type ConsistencyLevel = 'strong' | 'session' | 'bounded' | 'eventual';

/** Names of the built-in balancers. */
export type BalancerStrategyName =
  | 'round_robin'
  | 'weighted'
  | 'least_connections'
  | 'response_time'
  | 'health_aware'
  | 'power_of_two';

export interface LoadBalancingConfig {
  /** A built-in name or a `Balancer` object. Default `round_robin`. */
  strategy?: BalancerStrategyName | import('./contracts/balancer.js').Balancer;
  /** Weights by node id (e.g. `{ 'replica-1': 2 }`); overrides per-node `weight`. */
  weights?: Record<string, number>;
  /** `health_aware`: nodes scoring below this (0..100) are skipped unless none is left. Default 50. */
  healthThreshold?: number;
}

export type ShardKeyType = 'int4' | 'int8' | 'text' | 'uuid';

export interface ShardConfig {
  /** Shard id, default `shard-<n>`. */
  id?: string;
  primary: NodeConfig;
  replicas?: NodeConfig[];
  /**
   * The partitions this server holds (integers in `[0, partitions)`). Either every shard lists
   * them or none does; each partition is held by exactly one shard, and a shard may hold none
   * (a server just added, waiting for a move). Default: partition `p` on `shards[p % shards.length]`.
   * This is the seed of the cluster's partition map; once stored, the stored map is in force.
   */
  partitions?: number[];
}

/**
 * Where a sharded cluster's partition map is stored and how instances follow it
 * (clusters with listed `shards` only).
 */
export interface PartitionMapConfig {
  /** Cluster id whose primary stores the map. Default: this cluster's first shard. */
  coordinator?: string;
  /** Schema of the control tables (on the coordinator and on every shard). Default `pgm_sharding`. */
  schema?: string;
  /**
   * A write refused by a shard that no longer owns its partition waits this long for a newer map
   * version (NOTIFY, or a reload) before failing with `PARTITION_NOT_OWNED`. Default 30000 ms.
   */
  rerouteTimeoutMs?: number;
}

export interface ShardingConfig {
  /** Only `hash` (PostgreSQL-compatible hash partitioning). */
  strategy: 'hash';
  /** Column the shard key comes from (documentation; queries pass `shardKey`). */
  key: string;
  /** Number of hash partitions (modulus). */
  partitions: number;
  /** Type of the key for PostgreSQL-compatible hashing. Default `int8` for numbers/bigints, `text` for strings. */
  keyType?: ShardKeyType;
  /**
   * Servers holding the partitions: each shard's `partitions`, or by default partition `p`
   * on `shards[p % shards.length]`. Default: the cluster's own primary/replicas hold every partition.
   */
  shards?: ShardConfig[];
  /**
   * The durable, versioned partition map (clusters with listed `shards`): stored on the coordinator,
   * followed by every instance. `false`: route by the configuration alone (no control tables, no moves).
   */
  partitionMap?: PartitionMapConfig | false;
  /** Custom shard function: returns a partition in `[0, partitions)`. */
  shardFunction?: (key: unknown, partitions: number) => number;
}

export interface ClusterConfig {
  /** Schemas this cluster owns. A schema belongs to exactly one cluster. */
  schemas: string[];
  primary: NodeConfig;
  replicas?: NodeConfig[];
  /** Default `replica` when there are replicas, else `primary`. */
  readPreference?: ReadPreference;
  /** Default `eventual`. */
  consistencyLevel?: ConsistencyLevel;
  /** Default max lag for `bounded` reads, ms. Default 1000. */
  maxLagMs?: number;
  sharding?: ShardingConfig;
  loadBalancing?: LoadBalancingConfig;
  connectionPool?: PoolOptions;
  /** Higher is more important (informational, used in metrics). */
  priority?: number;
}

/** Cluster id -> cluster. The object `initialize()` takes. */
export type ClusterConfiguration = Record<string, ClusterConfig>;

/** Options of a runtime-registered schema (`registerSchema`). */
export interface SchemaOptions {
  /** `aggressive` caches reads of this schema even without `cache: true`. Default `default`. */
  cacheStrategy?: 'none' | 'default' | 'aggressive';
  priority?: number;
  readPreference?: ReadPreference;
  consistencyLevel?: ConsistencyLevel;
}

/** Health-monitor options (documented as `cluster`). */
export interface ClusterMonitorOptions {
  /**
   * Interval of full probe rounds (roles, lag, cluster status), ms. Default 30000. A failing
   * node is re-probed on its own within 1 s, and a query's connection failure probes at once.
   */
  healthCheckInterval?: number;
  /** Probe timeout, ms. Default 5000. */
  healthCheckTimeout?: number;
  /** Connection attempts (after connection errors) before a probe counts as failed. Default 3. */
  retryAttempts?: number;
  /**
   * Consecutive failed probes (timeouts, other errors) before a node is marked down. Default 3.
   * A probe whose connection is refused/reset/closed or told "shutting down / starting up"
   * marks the node down at once.
   */
  maxFailuresBeforeMarkDown?: number;
  /** Replica lag (ms) above which `replicaLagging` is emitted. Default 5000. */
  lagWarningMs?: number;
  /** When every replica is down, reads fall back to the primary. Default true. */
  fallbackToPrimary?: boolean;
}

/** Cache options (documented as `cache`). */
export interface CacheOptions {
  /** Max cache entries. Default 1000. */
  maxSize?: number;
  /** Max total bytes of cached entries (memory store). Default 64 MiB. */
  maxBytes?: number;
  /** Default TTL, ms. Default 300000. */
  ttl?: number;
  /** Compress entries larger than `compressionThreshold`. Default false. */
  enableCompression?: boolean;
  /** Bytes. Default 1024. */
  compressionThreshold?: number;
  /** Serve stale entries this long past TTL while one refresh runs. Default 0 (off). */
  swrMs?: number;
  /** A custom store; default an in-memory LRU. */
  store?: import('./contracts/cache-store.js').CacheStore;
}
