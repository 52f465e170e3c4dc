/**
 * How to read a `pg` error: a server verdict (SQLSTATE) or a broken connection.
 * Used by `poolProvider` (discard a broken session) and by the router (retry,
 * mark a node suspect).
 */

const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Node system error codes of a connection that failed or went away. */
export const NET_ERROR_CODES: ReadonlySet<string> = new Set([
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
 * Mark `err` as a failure to open a connection (raised by a pool's connect:
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
/** Messages of `pg` / `pg-pool` for a connection that failed, without a code. */
export const CONNECTION_ERROR_MESSAGE =
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
  if (typeof code === 'string' && NET_ERROR_CODES.has(code)) return true;
  return err instanceof Error && CONNECTION_ERROR_MESSAGE.test(err.message);
}

/** `pg`'s client-side `query_timeout` fired (the session may still be running the statement). */
export function isClientTimeout(err: unknown): boolean {
  return err instanceof Error && /Query read timeout/i.test(err.message);
}

/**
 * The SQLSTATE or system code of an error that says a connection could not be
 * opened or was lost (see `isConnectionError`: refused, reset, DNS, TLS, login
 * refused, server starting or stopping, ...), `CONNECTION` when it has no code;
 * undefined for any other error (the statement's own failure).
 */
export function connectionFailureCode(err: unknown): string | undefined {
  if (!isConnectionError(err)) return undefined;
  const code = (err as { code?: unknown } | null)?.code;
  return sqlStateOf(err) ?? (typeof code === 'string' && code !== '' ? code : 'CONNECTION');
}
