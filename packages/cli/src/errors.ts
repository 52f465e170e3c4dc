import { isPgmError, PgmError } from '@pg-multiverse/core';

/** A mistake on the command line: exit code 2. */
export function usageError(message: string, details?: Record<string, unknown>): PgmError {
  return new PgmError('INVALID_ARGUMENT', message, details ? { details } : {});
}

/** Codes that can only come from what the user typed or configured. */
const USAGE_CODES = new Set(['INVALID_ARGUMENT', 'INVALID_CONFIG', 'UNKNOWN_SCHEMA', 'UNKNOWN_CLUSTER']);

/** 0 success, 1 a migration or connection failure, 2 a usage or configuration error. */
export function exitCodeOf(err: unknown): 1 | 2 {
  return isPgmError(err) && USAGE_CODES.has(err.code) ? 2 : 1;
}

/** `code` of an error for the JSON output, `ERROR` when it has none. */
export function codeOf(err: unknown): string {
  if (isPgmError(err)) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
