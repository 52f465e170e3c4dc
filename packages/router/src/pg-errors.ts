import { PgmError, type PgmErrorCode, redactError, redactSecrets } from '@pg-multiverse/core';

const SQLSTATE = /^[0-9A-Z]{5}$/;
const NET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
]);
const RETRYABLE_STATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '40001']);
const CONN_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|connection error|Connection refused|not queryable|ECONNRESET|ECONNREFUSED/i;

/** SQLSTATE of a server error, or undefined for client/network errors. */
export function sqlStateOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SQLSTATE.test(code) ? code : undefined;
}

/** True when the connection itself failed (no server verdict on the statement), or the server is going away. */
export function isConnectionError(err: unknown): boolean {
  const state = sqlStateOf(err);
  if (state) return state.startsWith('08') || state.startsWith('57P');
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NET_CODES.has(code)) return true;
  return err instanceof Error && CONN_MESSAGE.test(err.message);
}

export function isClientTimeout(err: unknown): boolean {
  return err instanceof Error && /Query read timeout/i.test(err.message);
}

/**
 * A read that failed this way may run again on another node: the connection
 * was refused/reset before any result, the server is shutting down or still
 * starting (57P01/57P02/57P03), or a recovery conflict cancelled it (40001).
 * Client-side timeouts are not retried (the node is slow, not gone, and a
 * retry would double the wait).
 */
export function isRetryableRead(err: unknown): boolean {
  if (isClientTimeout(err)) return false;
  const state = sqlStateOf(err);
  if (state) return RETRYABLE_STATES.has(state);
  return isConnectionError(err);
}

/** Wrap a driver error as a PgmError, SQLSTATE reachable through `cause`, secrets removed. */
export function wrapQueryError(err: unknown, clusterId: string, nodeId: string, secrets: readonly string[]): PgmError {
  if (err instanceof PgmError) return err;
  const e = err instanceof Error ? redactError(err, secrets) : new Error(redactSecrets(String(err), secrets));
  const state = sqlStateOf(err);
  let code: PgmErrorCode = 'QUERY_FAILED';
  if (isClientTimeout(err) || (state === '57014' && /statement timeout/i.test(e.message))) code = 'QUERY_TIMEOUT';
  else if (!state && isConnectionError(err)) code = 'CONNECTION_FAILED';
  const what =
    code === 'CONNECTION_FAILED' ? 'Connection failed' : code === 'QUERY_TIMEOUT' ? 'Query timed out' : 'Query failed';
  return new PgmError(code, `${what} on ${clusterId}/${nodeId}${state ? ` [${state}]` : ''}: ${e.message}`, {
    cause: e,
    clusterId,
    nodeId,
    ...(state ? { details: { sqlState: state } } : {}),
  });
}
