import './error-codes.js';

export { deleteInBatches, dropReplication } from './cleanup.js';
export { subscriptionConninfo } from './conninfo.js';
export {
  createReshard,
  type RebalanceOptions,
  type RebalanceReport,
  type RecoveredMove,
  type Reshard,
} from './create-reshard.js';
export { RESHARD_ERROR_CODES } from './error-codes.js';
export { FINAL_STATES, MoveJournal } from './journal.js';
export { compareSchemas, type MovingTable, scanTables, type TableScan } from './moving-tables.js';
export { formatRebalancePlan, type PlannedMove, planRebalance, type RebalancePlan } from './plan-rebalance.js';
export { replicationName } from './replication.js';
export { CONTROL_SCHEMA, defaultHashType, helperDdl, helperTable, partitionPredicate } from './row-filter.js';
export type {
  ClusterAccess,
  CutoverHold,
  CutoverReport,
  MovePartitionsOptions,
  MoveProgress,
  MoveRecord,
  MoveReport,
  MoveState,
  PartitionMapControl,
  PartitionMapView,
  ReshardEnvironment,
  ReshardEvents,
  ShardAccess,
} from './types.js';
