import {
  CONNECTION_ERROR_MESSAGE,
  isClientTimeout,
  isConnectFailure,
  isConnectionError,
  NET_ERROR_CODES,
  PgmError,
  type PgmErrorCode,
  redactError,
  redactSecrets,
  sqlStateOf,
} from '@pg-multiverse/core';

export { isClientTimeout, isConnectFailure, isConnectionError, sqlStateOf };

const RETRYABLE_STATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '40001']);

const REFUSAL_STATES = new Set(['57P01', '57P02', '57P03']);
const TIMEOUT_MESSAGE = /time(d)?\s?out/i;

/**
 * The node said "no" at once, as opposed to being slow: the connection was
 * refused, reset or closed by the other end, the host or network is
 * unreachable, or the server reports a connection failure (`08xxx`) or that
 * it is shutting down, crashed or not accepting connections yet
 * (`57P01`/`57P02`/`57P03`). Timeouts of any kind (`ETIMEDOUT`, pg's connect
 * timeout, a client query timeout) are not refusals. The health monitor
 * marks a node down as soon as a probe on a fresh connection ends this way.
 */
export function isRefusal(err: unknown): boolean {
  const state = sqlStateOf(err);
  if (state) return state.startsWith('08') || REFUSAL_STATES.has(state);
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ETIMEDOUT') return false;
  if (typeof code === 'string' && NET_ERROR_CODES.has(code)) return true;
  return err instanceof Error && !TIMEOUT_MESSAGE.test(err.message) && CONNECTION_ERROR_MESSAGE.test(err.message);
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
  else if (isConnectFailure(err) || (!state && isConnectionError(err))) code = 'CONNECTION_FAILED';
  const what =
    code === 'CONNECTION_FAILED' ? 'Connection failed' : code === 'QUERY_TIMEOUT' ? 'Query timed out' : 'Query failed';
  const sys = (err as { code?: unknown } | null)?.code;
  const systemCode = !state && typeof sys === 'string' ? sys : undefined;
  const tag = state ?? systemCode;
  return new PgmError(code, `${what} on ${clusterId}/${nodeId}${tag ? ` [${tag}]` : ''}: ${e.message}`, {
    cause: e,
    clusterId,
    nodeId,
    ...(state ? { details: { sqlState: state } } : systemCode ? { details: { systemCode } } : {}),
  });
}
