import { isPgmError, PgmError } from '@pg-multiverse/core';

/** A mistake on the command line: exit code 2. */
export function usageError(message: string, details?: Record<string, unknown>): PgmError {
  return new PgmError('INVALID_ARGUMENT', message, details ? { details } : {});
}

/** 0 success, 1 a migration or connection failure, 2 a usage or configuration error. */
export function exitCodeOf(err: unknown): 1 | 2 {
  return isPgmError(err, 'INVALID_ARGUMENT') || isPgmError(err, 'INVALID_CONFIG') ? 2 : 1;
}

/** `code` of an error for the JSON output, `ERROR` when it has none. */
export function codeOf(err: unknown): string {
  if (isPgmError(err)) return err.code;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'ERROR';
}
