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
  /**
   * Shard key (sharded clusters): picks the shard, and wins over the key found in the SQL.
   * Without it the key is looked for in the SQL; a statement whose key cannot be
   * determined runs on every shard (cross-shard, see the README).
   */
  shardKey?: unknown;
  /**
   * Cross-shard reads: when a shard cannot answer (after the read retry rules), return the
   * rows of the shards that did, with `route.partial: true` and `route.failedShards`,
   * instead of failing. Default false. Partial results are never cached.
   */
  allowPartial?: boolean;
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
  /** Shard (clusters sharded over listed servers); the first one for a cross-shard statement. */
  readonly shardId: string | undefined;
  /** Clusters sharded over listed servers: every shard the statement runs on (several: cross-shard). */
  readonly shardIds: readonly string[] | undefined;
  /** The statement runs on more than one shard (fan-out and merge; see the README's cross-shard table). */
  readonly crossShard: boolean;
  /** Sharded clusters: the partitions the statement is confined to; undefined when every partition (or unsharded). */
  readonly partitions: readonly number[] | undefined;
  /** Sharded clusters: how the shards were found: `shardKey option`, `user_id in ($1)`, `no condition on the key for orders`, ... */
  readonly shardReason: string | undefined;
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
  | 'session'
  | 'cross-shard';

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
  /** Cross-shard statements: every shard and node that answered (`nodeId` is the first node). */
  shardIds?: string[];
  nodeIds?: string[];
  /** Cross-shard reads with `allowPartial`: some shard did not answer; its rows are missing. */
  partial?: boolean;
  /** With `partial`: the shards that did not answer. */
  failedShards?: string[];
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
  /** Cross-shard statements (reason `cross-shard`): every shard and node involved (one event for the whole statement). */
  shardIds?: string[];
  nodeIds?: string[];
  /** Cross-shard reads with `allowPartial` that lacked a shard's rows. */
  partial?: boolean;
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
}

export type { ConsistencyLevel, ReadPreference };
