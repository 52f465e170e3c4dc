import { PgmError } from '@pg-multiverse/core';
import type { TransactionOptions } from './types.js';

const LEVELS = new Set(['read committed', 'repeatable read', 'serializable', 'read uncommitted']);

/** `BEGIN` with the transaction's isolation level and access mode. */
export function beginSql(options: TransactionOptions): string {
  const parts = ['BEGIN'];
  if (options.isolationLevel !== undefined) {
    const level = String(options.isolationLevel).toLowerCase();
    if (!LEVELS.has(level)) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `tx: unknown isolationLevel ${JSON.stringify(options.isolationLevel)} (use ${[...LEVELS].join(', ')})`,
      );
    }
    parts.push(`ISOLATION LEVEL ${level.toUpperCase()}`);
  }
  if (options.readOnly) parts.push('READ ONLY');
  if (options.deferrable) parts.push('DEFERRABLE');
  return parts.join(' ');
}

/** Throws for options that make no sense, before anything is sent. */
export function checkOptions(options: TransactionOptions): void {
  beginSql(options);
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0)) {
    throw new PgmError('INVALID_ARGUMENT', `tx: timeoutMs must be a positive number, got ${options.timeoutMs}`);
  }
}
