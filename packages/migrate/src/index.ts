// Re-exported from core: how targets are named in logs, errors and `pgm status`.
export { locationOf } from '@pg-multiverse/core';
export { checksumOf, normalizeSource } from './checksum.js';
export { createMigrationFile } from './create-migration.js';
export { MIGRATE_ERROR_CODES } from './error-codes.js';
export { MigrationError } from './errors.js';
export { formatPlan } from './format-plan.js';
export { importModule } from './import-module.js';
export { loadMigrationFile, loadMigrations, MIGRATION_FILE } from './load-migrations.js';
export { MigrationManager } from './manager.js';
export { splitSql } from './split-sql.js';
export { parseSqlMigration } from './sql-file.js';
export type {
  LoadedMigration,
  LockEvent,
  Migration,
  MigrationContext,
  MigrationCounts,
  MigrationCreateOptions,
  MigrationDirection,
  MigrationEvent,
  MigrationEvents,
  MigrationExecutionOptions,
  MigrationLogger,
  MigrationManagerOptions,
  MigrationRollbackOptions,
  MigrationRunResult,
  MigrationStatus,
  MigrationStepResult,
  PlanEvent,
  StepStatus,
  TargetFilter,
  TargetStatus,
} from './types.js';
