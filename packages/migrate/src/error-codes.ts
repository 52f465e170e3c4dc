// The error codes this package raises, added to core's PgmErrorCodes (see there).
declare module '@pg-multiverse/core' {
  interface PgmErrorCodes {
    MIGRATION_FAILED: 'a migration step failed and was rolled back';
    MIGRATION_LOAD_FAILED: 'a migration file could not be loaded';
    MIGRATION_LOCK_TIMEOUT: 'the migration lock was not acquired in time';
    MIGRATION_CHECKSUM_MISMATCH: 'an applied migration changed since it ran';
    MIGRATION_DEPENDENCY: 'a migration depends on one that is missing or not applied';
    MIGRATION_OUT_OF_ORDER: 'a pending migration is older than an applied one';
    MIGRATION_NOT_REVERSIBLE: 'the migration has no down step';
  }
}

/** The error codes this package raises besides core's shared ones (`CORE_ERROR_CODES`). */
export const MIGRATE_ERROR_CODES = Object.freeze([
  'MIGRATION_FAILED',
  'MIGRATION_LOAD_FAILED',
  'MIGRATION_LOCK_TIMEOUT',
  'MIGRATION_CHECKSUM_MISMATCH',
  'MIGRATION_DEPENDENCY',
  'MIGRATION_OUT_OF_ORDER',
  'MIGRATION_NOT_REVERSIBLE',
] as const);
