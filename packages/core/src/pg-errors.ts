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
]);
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
