import { PgmError, type PgmErrorCode, type PgmErrorOptions } from '@pg-multiverse/core';
import type { MigrationRunResult } from './types.js';

/**
 * A migration error. `code` tells what happened (`MIGRATION_FAILED`,
 * `MIGRATION_LOCK_TIMEOUT`, `MIGRATION_CHECKSUM_MISMATCH`, ...); `result`
 * carries the per-step results when a run failed part-way.
 */
export class MigrationError extends PgmError {
  override readonly name = 'MigrationError';
  /** Migration version concerned, if one. */
  readonly version: string | undefined;
  /** Per-step results of the run, when the error ends a run. */
  readonly result: MigrationRunResult | undefined;

  constructor(
    code: PgmErrorCode,
    message: string,
    options: PgmErrorOptions & { version?: string; result?: MigrationRunResult } = {},
  ) {
    super(code, message, options);
    this.version = options.version;
    this.result = options.result;
  }
}
