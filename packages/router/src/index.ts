export {
  analyzeSql,
  type ClassifyOptions,
  classifySql,
  createSqlClassifier,
  DEFAULT_WRITE_FUNCTIONS,
  type SqlAnalysis,
  type SqlClassifier,
  type SqlClassifierOptions,
  type SqlKind,
} from './classify-sql.js';
export { createRouter, type Router } from './create-router.js';
export type { ShardStatementRunner } from './cross-shard/read-on.js';
export type { ShardWrite } from './cross-shard/writes.js';
export { ROUTER_ERROR_CODES } from './error-codes.js';
export {
  columnHash,
  hashBytesExtended,
  hashCombine64,
  hashShard,
  hashUint32Extended,
  partitionRowHash,
  type ShardKey,
} from './hash-shard.js';
export { formatLsn, parseLsn } from './lsn.js';
export { GUARD_TRIGGER } from './partition-map/guard.js';
export type { PartitionHold, PartitionHoldState } from './partition-map/hold.js';
export { type PartitionMap, type PartitionMove, partitionsOf } from './partition-map/map.js';
export type { HoldPartitionsOptions } from './partition-map/partition-maps.js';
export { GUARD_SETTING, NOT_OWNER_SQLSTATE, PARTITION_MAP_CHANNEL } from './partition-map/store.js';
export { isConnectionError, isRetryableRead } from './pg-errors.js';
export { RoutedQueryResult } from './routed-result.js';
export {
  createSessionToken,
  isSessionToken,
  parseSessionToken,
  type SessionToken,
} from './session-token.js';
export {
  currentStatementContext,
  runWithStatementContext,
  type StatementContext,
} from './statement-context.js';
export type {
  ClusterHealth,
  ExecuteOptions,
  NodeHealth,
  NodeSnapshot,
  PartitionMapChangedEvent,
  PartitionsReleasedEvent,
  QueryExecutedEvent,
  QueryPlan,
  RoutedResult,
  RouteInfo,
  RouteOptions,
  RouteReason,
  RouterEvents,
  RouterOptions,
  RouterWarning,
  SchemaEntry,
} from './types.js';
