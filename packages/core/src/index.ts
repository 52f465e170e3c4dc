export type {
  BalancerStrategyName,
  CacheOptions,
  ClusterConfig,
  ClusterConfiguration,
  ClusterMonitorOptions,
  ConsistencyLevel,
  LoadBalancingConfig,
  NodeConfig,
  NodeConnectionConfig,
  PartitionMapConfig,
  PoolOptions,
  ReadPreference,
  SchemaOptions,
  ShardConfig,
  ShardingConfig,
  ShardKeyType,
} from './config.js';
export type { Balancer, NodeRole, NodeState, PickContext } from './contracts/balancer.js';
export type {
  CacheEntry,
  CacheGetHint,
  CacheSetOptions,
  CacheStore,
  InvalidationCriteria,
} from './contracts/cache-store.js';
export type {
  Connection,
  ConnectionProvider,
  FieldInfo,
  PoolStats,
  QueryResult,
  RunSettled,
  SessionPosition,
  SessionRequirements,
  SessionRun,
} from './contracts/connection-provider.js';
export {
  ANY_FRESHNESS,
  type Freshness,
  formatLsn,
  freshnessCovers,
  lsnToBigInt,
  type ResultOrigin,
  satisfiesFreshness,
} from './contracts/freshness.js';
export {
  CORE_ERROR_CODES,
  ConfigError,
  type ConfigIssue,
  isPgmError,
  PgmError,
  type PgmErrorCode,
  type PgmErrorCodes,
  type PgmErrorOptions,
} from './errors.js';
export { listedShards, locationOf } from './location.js';
export {
  createNodeState,
  LATENCY_ALPHA,
  LATENCY_FAILURE_PENALTY_MS,
  LATENCY_HALF_LIFE_MS,
  type NodeStateInit,
  recordLatency,
} from './node-state.js';
export {
  CONNECTION_ERROR_MESSAGE,
  connectionFailureCode,
  isClientTimeout,
  isConnectFailure,
  isConnectionError,
  markConnectFailure,
  NET_ERROR_CODES,
  sqlStateOf,
} from './pg-errors.js';
export { type PoolClientLike, type PoolLike, type PoolProviderOptions, poolProvider } from './pool-provider.js';
export { quoteIdent, quoteLiteral, quoteQualified } from './quote-ident.js';
export { collectSecrets, describeNode, redactError, redactSecrets } from './redact.js';
export { searchPathFor } from './search-path.js';
export { CAPTURE_LSN_SQL, POSITION_SQL, runStatement } from './session.js';
export {
  type AnalyzeSqlOptions,
  analyzeSql,
  createSqlAnalyzer,
  type SqlAnalyzer,
  type SqlAnalyzerOptions,
  type SqlKind,
  type SqlStatementAnalysis,
  type SqlTextAnalysis,
} from './sql/analyze-sql.js';
export { type SqlStatement, splitStatements } from './sql/split-statements.js';
export {
  iterateSqlTokens,
  type SqlStringKind,
  type SqlToken,
  type SqlTokenType,
  type TokenizeOptions,
  tokenizeSql,
} from './sql/tokenize.js';
export { DEFAULT_WRITE_FUNCTIONS } from './sql/write-functions.js';
export {
  isNormalizedConfiguration,
  NODE_KEYS,
  type NormalizedCluster,
  type NormalizedConfiguration,
  type NormalizedNode,
  type NormalizedShard,
  toPgPoolConfig,
  type ValidateOptions,
  validateConfiguration,
} from './validate-config.js';
export {
  CACHE_KEYS,
  checkCacheOptions,
  checkKnownKeys,
  checkLoadBalancing,
  checkMigrationOptions,
  checkMonitorOptions,
  checkPgMultiverseOptions,
  checkPoolOptions,
  didYouMean,
  FACADE_KEYS,
  MIGRATION_KEYS,
  MIN_HEALTH_CHECK_INTERVAL_MS,
  MONITOR_KEYS,
  POOL_KEYS,
  ROUTER_KEYS,
  validateCacheOptions,
  validateMigrationOptions,
  validatePgMultiverseOptions,
  validateRouterOptions,
} from './validate-options.js';
export {
  DEFAULT_PARTITION_MAP_SCHEMA,
  type NormalizedPartitionMapConfig,
  placePartitions,
} from './validate-partitions.js';
