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
  'EAI_AGAIN',
  'EAI_FAIL',
  'ECONNABORTED',
]);

/** Node's TLS verification codes (self-signed, unknown CA, wrong host name, expired, ...). */
const TLS_CODE = /^(ERR_TLS_|ERR_SSL_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_|CERT_|HOSTNAME_MISMATCH)/;
const TLS_MESSAGE = /does not support SSL connections|self[- ]signed certificate|certificate has expired/i;

const CONNECT_FAILED = Symbol.for('pgm.connectFailed');

/**
 * Mark `err` as a failure to open a connection (raised by the pool's connect:
 * authentication, TLS, a throwing password callback, DNS, refused). Returns
 * the error (wrapped in an Error when something else was thrown).
 */
export function markConnectFailure(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  try {
    Object.defineProperty(e, CONNECT_FAILED, { value: true, enumerable: false });
  } catch {
    // a frozen error: classified by its code and message instead
  }
  return e;
}

/** True for an error raised while opening the connection (see `markConnectFailure`), or a TLS failure. */
export function isConnectFailure(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  if ((err as { [CONNECT_FAILED]?: boolean })[CONNECT_FAILED] === true) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && TLS_CODE.test(code)) return true;
  const state = sqlStateOf(err);
  // Only the server's verdict at login has these: wrong password or role (28xxx), unknown database, too many connections.
  if (state && (state.startsWith('28') || state === '3D000' || state === '53300')) return true;
  return !state && err instanceof Error && TLS_MESSAGE.test(err.message);
}
const RETRYABLE_STATES = new Set(['57P01', '57P02', '57P03', '08000', '08001', '08003', '08004', '08006', '40001']);
const CONN_MESSAGE =
  /Connection terminated|timeout exceeded when trying to connect|connection error|Connection refused|not queryable|ECONNRESET|ECONNREFUSED/i;

/**
 * SQLSTATE of a server error, or undefined for client/network errors. A Node
 * system error (`syscall`/`errno`) is never one, although some of its codes
 * (`EPIPE`) have the shape of a SQLSTATE.
 */
export function sqlStateOf(err: unknown): string | undefined {
  const e = err as { code?: unknown; syscall?: unknown; errno?: unknown } | null;
  const code = e?.code;
  if (typeof code !== 'string' || !SQLSTATE.test(code)) return undefined;
  return e!.syscall === undefined && e!.errno === undefined ? code : undefined;
}

/** True when the connection itself failed (no server verdict on the statement), or the server is going away. */
export function isConnectionError(err: unknown): boolean {
  if (isConnectFailure(err)) return true;
  const state = sqlStateOf(err);
  if (state) return state.startsWith('08') || state.startsWith('57P');
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && NET_CODES.has(code)) return true;
  return err instanceof Error && CONN_MESSAGE.test(err.message);
}

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
  if (typeof code === 'string' && NET_CODES.has(code)) return true;
  return err instanceof Error && !TIMEOUT_MESSAGE.test(err.message) && CONN_MESSAGE.test(err.message);
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
