import type {
  ClusterMonitorOptions,
  ConnectionProvider,
  ConsistencyLevel,
  Freshness,
  LoadBalancingConfig,
  NodeRole,
  PoolLike,
  PoolOptions,
  QueryResult,
  ReadPreference,
  ResultOrigin,
  SchemaOptions,
} from '@pg-multiverse/core';
import type { SessionToken } from './session-token.js';

/** Options of `createRouter(config, options)`. */
export interface RouterOptions {
  /** Health-monitor settings (interval, timeout, failures before mark-down, fallback). */
  monitor?: ClusterMonitorOptions;
  /** Balancer defaults for every cluster (a cluster's own `loadBalancing` wins). */
  loadBalancing?: LoadBalancingConfig;
  /** Pool defaults for every node (a cluster's and a node's own `connectionPool`/`pool` win). */
  connectionPool?: PoolOptions;
  /**
   * Connections you already have, by `"<clusterId>/<nodeId>"` (e.g. `users_cluster/replica-1`).
   * A `pg.Pool` keeps the zero-round-trip search_path tracking; a generic
   * `ConnectionProvider` pays one extra round trip per schema-qualified query.
   * Pools and providers passed here are never ended by the router.
   */
  providers?: Record<string, ConnectionProvider | PoolLike>;
  /** Cluster used for queries without a schema. Default: the only cluster, if there is exactly one. */
  defaultCluster?: string;
  /** Extra functions whose call makes a statement a write (see `classifySql`), e.g. `['audit_log', 'app.bump_*']`. */
  writeFunctions?: string[];
  /** Extra secrets to redact from error messages (configured passwords are always redacted). */
  secrets?: string[];
  /**
   * Skip the connection check of `start()` (for apps that must start before
   * their databases): nodes are connected on first use and probed by the
   * monitor. Default false: an unreachable primary fails `start()`.
   */
  lazyConnect?: boolean;
}

/** Per-query routing options. */
export interface RouteOptions {
  /** Schema whose cluster runs the query; also put first on the search_path. */
  schema?: string;
  /** Target a cluster directly (no search_path change unless `schema` is given too). */
  clusterId?: string;
  /** Force the node role: `primary` always goes to the primary; `replica` prefers replicas even for the `strong` default. */
  role?: 'primary' | 'replica';
  /** Consistency for reads. Default: the schema's, else the cluster's `consistencyLevel`. */
  consistency?: ConsistencyLevel;
  /** Max replica lag for `bounded` reads, ms. Default: the cluster's `maxLagMs`. */
  maxLagMs?: number;
  /** Shard key (sharded clusters): picks the shard. */
  shardKey?: unknown;
  /** Read-your-writes token; default: the one of `runWithSession`, if any. */
  sessionToken?: SessionToken;
  /** Override the SQL classification (`read` or `write`). */
  kind?: 'read' | 'write';
  /**
   * Reads: record where the result came from in `route.origin` (role and WAL
   * position, read on the same session just before the statement: one extra
   * round trip). The facade's cache asks for it when it fills an entry.
   */
  readOrigin?: boolean;
}

/**
 * What the router decided for one statement, before running it
 * (`router.plan(sql, options)`): the one place where a statement is
 * classified and routed. Layers around the router (the facade's cache,
 * metrics, tracing, transaction follow-up) read it instead of deriving any
 * of it again, and run it with `router.execute(plan, params)`.
 */
export interface QueryPlan {
  readonly sql: string;
  /** From the SQL analysis (or the `kind` option): writes go to the primary. */
  readonly kind: 'read' | 'write';
  /** Tables the statement reads and writes, from the same analysis (`schema.table` as written in the SQL). */
  readonly tables: { readonly read: readonly string[]; readonly written: readonly string[] };
  readonly clusterId: string;
  /** Shard (clusters sharded over listed servers). */
  readonly shardId: string | undefined;
  /** Hash partition of the shard key on a sharded cluster (its group is the owner the partition map names). */
  readonly partition: number | undefined;
  /** `clusterId`, or `clusterId#shardId`: the unit of session positions and cache entries. */
  readonly group: string;
  /** Schema put first on the search_path (the `schema` option). */
  readonly schema: string | undefined;
  /** Reads: the consistency level in force (option, else the schema's, else the cluster's). */
  readonly consistency: ConsistencyLevel | undefined;
  /**
   * Reads: what a result read elsewhere (a cache entry, a shared load) must
   * satisfy to answer this read; the rule is `Freshness` in core. Writes: `any`.
   */
  readonly freshness: Freshness;
  /** Reads: `route.origin` will say where the result came from (the `readOrigin` option). */
  readonly readOrigin: boolean;
  /** The schema's `cacheStrategy` (`registerSchema`), if any: the facade caches reads of `aggressive` schemas. */
  readonly cacheStrategy: 'none' | 'default' | 'aggressive' | undefined;
}

/** Options of `router.execute(plan, params, options)`. */
export interface ExecuteOptions {
  /** Reads: record `route.origin` (as the `readOrigin` route option), decided after planning (e.g. on a cache miss). */
  readOrigin?: boolean;
}

/** Why a node was chosen. */
export type RouteReason =
  | 'write'
  | 'role-primary'
  | 'role-replica'
  | 'strong'
  | 'read-preference-primary'
  | 'balanced'
  | 'session-caught-up'
  | 'session-primary'
  | 'bounded-primary'
  | 'fallback-primary'
  | 'retry'
  | 'session';

/** Where a query ran. Attached to results as the non-enumerable `route`. */
export interface RouteInfo {
  clusterId: string;
  /** Node id in its cluster, e.g. `replica-1` or `shard-0/primary`. */
  nodeId: string;
  shardId?: string;
  role: NodeRole;
  reason: RouteReason;
  kind: 'read' | 'write';
  durationMs: number;
  retried: boolean;
  /** Reads run with `readOrigin`: where the result came from. */
  origin?: ResultOrigin;
}

export type RoutedResult<R> = QueryResult<R> & { readonly route: RouteInfo };

/** Runtime view of a registered schema. */
export interface SchemaEntry extends SchemaOptions {
  clusterId: string;
}

/** Per-node health in `healthCheck()`. */
export interface NodeHealth {
  healthy: boolean;
  role: NodeRole;
  responseTime: number;
  /** Replay lag in bytes; absent when unknown (node unreachable or down, or no position seen yet). */
  lagBytes?: number;
  /** Replay lag in ms; absent when unknown (never a stale 0 for a stopped replica). */
  lagMs?: number;
  error?: string;
  failureCount: number;
}

/** Per-cluster health in `healthCheck()`. */
export interface ClusterHealth {
  /** True when the cluster can take writes (every shard has exactly one reachable primary). */
  healthy: boolean;
  /** Slowest probe of the cluster, ms. */
  responseTime: number;
  error?: string;
  failureCount: number;
  nodes: Record<string, NodeHealth>;
}

/** A snapshot of one node for metrics. */
export interface NodeSnapshot {
  clusterId: string;
  nodeId: string;
  shardId?: string;
  role: NodeRole;
  configuredRole: NodeRole;
  healthy: boolean;
  healthScore: number;
  inFlight: number;
  ewmaLatencyMs: number;
  lagBytes: number;
  lagMs: number;
  /** Last replay LSN (replicas) or current WAL LSN (primary) seen, `X/Y`. */
  lsn?: string;
  failureCount: number;
  queries: number;
  errors: number;
  totalTimeMs: number;
  pool: { total: number; idle: number; waiting: number };
}

export interface QueryExecutedEvent {
  clusterId: string;
  nodeId: string;
  shardId?: string;
  role: NodeRole;
  reason: RouteReason;
  kind: 'read' | 'write';
  schema?: string;
  durationMs: number;
  /** Same as `durationMs` (the documented name). */
  duration: number;
  ok: boolean;
  retried: boolean;
  /** SQL text only; parameters are never included. */
  sql: string;
  /** Error code (SQLSTATE or PgmError code) when `ok` is false. */
  errorCode?: string;
  /** Statements on a lent session (reason `session`) run inside `runWithStatementContext({ transactionId })`. */
  transactionId?: string;
}

/** Events of the router. */
export interface RouterEvents {
  queryExecuted: [QueryExecutedEvent];
  nodeDown: [{ clusterId: string; nodeId: string; reason: string; failureCount: number }];
  nodeUp: [{ clusterId: string; nodeId: string; downtime: number }];
  clusterDown: [{ clusterId: string; reason: string }];
  clusterRecovered: [{ clusterId: string; downtime: number }];
  roleChanged: [{ clusterId: string; nodeId: string; from: NodeRole; to: NodeRole }];
  primaryChanged: [{ clusterId: string; shardId?: string; from: string; to: string }];
  splitBrain: [{ clusterId: string; shardId?: string; primaries: string[] }];
  replicaLagging: [{ clusterId: string; nodeId: string; lagMs: number; lagBytes: number }];
  replicaCaughtUp: [{ clusterId: string; nodeId: string }];
  readFallback: [{ clusterId: string; reason: string; nodeId: string }];
  queryRetried: [{ clusterId: string; fromNode: string; toNode: string; errorCode?: string }];
  schemaRegistered: [{ schema: string; clusterId: string; previous?: string }];
  /** Errors of idle pooled connections (already handled; informational, never thrown). */
  poolError: [{ clusterId: string; nodeId: string; error: Error }];
  /** A sharded cluster's partition map in force changed (at start, by NOTIFY, after a refusal, a commit or a reload). */
  partitionMapChanged: [PartitionMapChangedEvent];
  /** A partition hold ended: its statements were released (`heldMs`: how long the hold lasted). */
  partitionsReleased: [PartitionsReleasedEvent];
  /** Something works, but not as configured (never thrown). */
  warning: [RouterWarning];
}

export interface PartitionMapChangedEvent {
  clusterId: string;
  version: number;
  /** Absent when the map replaced was the configuration's (at start). */
  previousVersion: number | undefined;
  /** Partitions whose owner changed. */
  moved: number[];
  source: 'start' | 'notify' | 'not-owner' | 'commit' | 'reload';
}

export interface PartitionsReleasedEvent {
  clusterId: string;
  partitions: number[];
  outcome: 'committed' | 'aborted' | 'released';
  heldMs: number;
  /** Statements released when it ended. */
  queued: number;
  /** The most statements that waited at once. */
  maxQueued: number;
  /** The map version in force after it. */
  version: number;
}

/**
 * `PARTITION_MAP_DIFFERS`: at start, the stored partition map differs from the configuration's
 * (`partitions`: where); the stored one is in force. `PARTITION_MAP_INVALID`: a newer stored map names
 * shards this configuration does not list; routing stays on the map in force.
 */
export interface RouterWarning {
  code: 'PARTITION_MAP_DIFFERS' | 'PARTITION_MAP_INVALID';
  clusterId: string;
  version: number;
  message: string;
  partitions?: number[];
}

export type { ConsistencyLevel, ReadPreference };
