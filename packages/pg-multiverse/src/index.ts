export {
  createBalancer,
  healthAware,
  leastConnections,
  powerOfTwoChoices,
  responseTime,
  roundRobin,
  weighted,
} from '@pg-multiverse/balancer';
export { createMemoryStore, createRedisStore } from '@pg-multiverse/cache';
export * from '@pg-multiverse/core';
export type { Migration, MigrationContext } from '@pg-multiverse/migrate';
export {
  formatRebalancePlan,
  type MovePartitionsOptions,
  type MoveProgress,
  type MoveRecord,
  type MoveReport,
  RESHARD_ERROR_CODES,
  type RebalanceOptions,
  type RebalancePlan,
  type RebalanceReport,
  type RecoveredMove,
} from '@pg-multiverse/reshard';
export { type ClusterHealth, classifySql, hashShard, type NodeHealth } from '@pg-multiverse/router';
export type { InDoubtTransaction, RecoveryReport } from '@pg-multiverse/tx';
export type { CopyFromOptions, CopyFromResult, CopyInput } from './copy-from.js';
export { FACADE_ERROR_CODES } from './error-codes.js';
export type { PgMultiverseEvents } from './events.js';
export {
  type CacheMetrics,
  type ClusterMetrics,
  DURATION_BUCKETS,
  type NodeMetrics,
  type SystemMetrics,
  type TransactionMetrics,
} from './metrics.js';
export type { InvalidationCriteria, PgMultiverseOptions, QueryOptions } from './options.js';
export {
  PgMultiverse,
  type TransactionCallback,
  type TransactionContext,
} from './pg-multiverse.js';
export { RoutingPool, type RoutingPoolOptions } from './pool.js';
export type { RoutingPoolClient } from './pool-client.js';
export { PROMETHEUS_CONTENT_TYPE } from './prometheus.js';
export { type QueryTracer, type SpanAttributeValue, type SpanLike, TRACER_NAME } from './tracing.js';
