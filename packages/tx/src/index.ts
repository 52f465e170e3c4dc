export { beginSql } from './begin-sql.js';
export { createDecisionLog, type Decision, type DecisionLog } from './decision-log.js';
export { TX_ERROR_CODES } from './error-codes.js';
export { formatGid, GID_PREFIX, MAX_GID_BYTES, newTxid, ownerPrefix, type ParsedGid, parseGid } from './gid.js';
export { createTransactionManager, type TransactionManager } from './manager.js';
export { checkPreparedTransactions } from './preflight.js';
export type {
  HookInfo,
  InDoubtTransaction,
  IsolationLevel,
  ParticipantRunner,
  RecoveryFailedEvent,
  RecoveryReport,
  StatementRecord,
  StatementRoute,
  StatementRouteRequest,
  Transaction,
  TransactionCallback,
  TransactionCommittedEvent,
  TransactionEvents,
  TransactionHooks,
  TransactionManagerOptions,
  TransactionMetrics,
  TransactionOptions,
  TransactionRecoveredEvent,
  TransactionRolledBackEvent,
  TransactionStartedEvent,
  TxQueryOptions,
} from './types.js';
