import type {
  Connection,
  ConnectionProvider,
  PoolStats,
  QueryResult,
  RunSettled,
  SessionRequirements,
  SessionRun,
  StatementShape,
} from './contracts/connection-provider.js';
import { isClientTimeout, isConnectionError, markConnectFailure } from './pg-errors.js';
import { canPipeline, pipelineQuery } from './pipeline-query.js';
import {
  CAPTURE_LSN_SQL,
  isBehind,
  lastResult,
  lsnOf,
  POSITION_SQL,
  positionOf,
  skipped,
  wantsPosition,
} from './session.js';
import { analyzeSql } from './sql/analyze-sql.js';
import { pgQueryOf } from './statement-shape.js';

/** The part of `pg.Pool` that `poolProvider` uses (structural, so core needs no `pg`). */
export interface PoolLike {
  query(text: string, values?: unknown[]): Promise<unknown>;
  connect(): Promise<PoolClientLike>;
  end(): Promise<void>;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

export interface PoolClientLike {
  /** A text, or (for statements with a `StatementShape`) a pg `QueryConfig` with `text`, `values`, `rowMode`, `types`, `name`. */
  query(text: string | ReturnType<typeof pgQueryOf>, values?: unknown[]): Promise<unknown>;
  release(destroy?: boolean | Error): void;
  on?(event: 'error', listener: (err: Error) => void): unknown;
  off?(event: 'error', listener: (err: Error) => void): unknown;
}

export interface PoolProviderOptions {
  /** Called for errors of idle pooled connections (a dropped connection must never crash the process). */
  onIdleError?: (err: Error) => void;
  /** End the pool on `end()`. Default true (false for pools the application owns). */
  ownsPool?: boolean;
  /**
   * The pool's `connect(cb)` and its clients' `query(text, values, cb)` take
   * node-style callbacks, as `pg`'s do: steady-state statements then cost one
   * promise each, like `pool.query`. Default: true for a `pg.Pool` (recognised
   * by shape), false otherwise (promises only).
   */
  callbacks?: boolean;
}

/** A statement for pg: its text, or a `QueryConfig` when a shape is asked for (see `pgQueryOf`). */
type PgQuery = ReturnType<typeof pgQueryOf>;

interface TrackedClient extends PoolClientLike {
  query(text: PgQuery, values?: unknown[]): Promise<unknown>;
  query(text: PgQuery, values: unknown[] | undefined, cb: (err: Error | null, res: unknown) => void): void;
  [SEARCH_PATH]?: string;
  [GUARDED]?: true;
}

interface CallbackPool {
  connect(cb: (err: Error | undefined, client: TrackedClient | undefined) => void): void;
}

/** The search_path a pooled session is on (undefined: server default), or DIRTY. */
const SEARCH_PATH = Symbol('pgm.searchPath');
const GUARDED = Symbol('pgm.errorGuard');
/** Session state we cannot vouch for: `RESET ALL` before the next statement. */
const DIRTY = '\u0000dirty';
const SESSION_COMMANDS = new Set(['SET', 'RESET', 'DISCARD', 'LISTEN', 'UNLISTEN', 'PREPARE', 'DEALLOCATE', 'LOAD']);
const TX_COMMANDS = new Set(['BEGIN', 'START', 'SAVEPOINT']);
const STEADY_COMMANDS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'FETCH', 'MOVE', 'CALL']);
const NO_SESSION: SessionRequirements = Object.freeze({});
const NOOP: RunSettled = () => {};

/**
 * pg-pool removes its error listener while a client is checked out, and a
 * connection dying between two statements (or after a failed one) would then
 * emit an unhandled 'error'. Every client we touch gets one permanent listener.
 */
function guard(client: TrackedClient): TrackedClient {
  if (!client[GUARDED]) {
    client[GUARDED] = true;
    client.on?.('error', () => {
      client[SEARCH_PATH] = DIRTY;
    });
  }
  return client;
}

/** Note session-changing commands in a result; true when the client must be destroyed (left in a transaction). */
function markCommands(client: TrackedClient, res: unknown): boolean {
  let destroy = false;
  for (const r of (Array.isArray(res) ? res : [res]) as { command: string }[]) {
    if (TX_COMMANDS.has(r.command)) destroy = true;
    else if (SESSION_COMMANDS.has(r.command)) client[SEARCH_PATH] = DIRTY;
  }
  return destroy;
}

/** What to send before a statement so `client` is on `want` (undefined: nothing). */
function settle(client: TrackedClient, want: string | undefined): string | undefined {
  const cur = client[SEARCH_PATH];
  if (cur === want) return undefined;
  const reset = cur === DIRTY ? 'RESET ALL' : undefined;
  if (want === undefined) return reset ?? 'RESET search_path';
  return reset ? `${reset}; SET search_path TO ${want}` : `SET search_path TO ${want}`;
}

/** A text whose first statement is `BEGIN` / `START TRANSACTION` (core's analysis, memoized per text). */
function opensTransaction(text: string): boolean {
  const first = analyzeSql(text).statements[0]?.command;
  return first === 'BEGIN' || first === 'START';
}

/** Errors after which a session is destroyed rather than reused (the connection itself is in doubt). */
function breaks(err: unknown): boolean {
  return isConnectionError(err) || isClientTimeout(err) || !(err instanceof Error);
}

function isPgPool(pool: PoolLike): boolean {
  const p = pool as unknown as { Client?: unknown; _pulseQueue?: unknown };
  return typeof p.Client === 'function' && typeof p._pulseQueue === 'function';
}

/**
 * Wrap a `pg.Pool` (or anything shaped like it) as a `ConnectionProvider`
 * with `run`. Installs an `error` listener so an idle connection dropped by the
 * server does not crash the process.
 *
 * Each pooled session remembers its search_path (a symbol on the client). A
 * statement for search_path S issues `SET search_path TO S` only when its
 * session is not already on S, so with a steady mix of schemas every warm
 * session ends up pinned and a statement is one round trip. Sessions whose
 * state we cannot vouch for (after `withConnection`, a user `SET`, or any
 * error) get `RESET ALL` before their next statement; sessions left inside a
 * transaction by user SQL (`BEGIN`) are destroyed on release. `query` and
 * `withConnection` always start on the server-default search_path.
 */
export function poolProvider(pool: PoolLike, id: string, options: PoolProviderOptions = {}): ConnectionProvider {
  const ownsPool = options.ownsPool ?? true;
  const onIdleError = options.onIdleError;
  pool.on?.('error', (err) => onIdleError?.(err));
  let ended = false;
  const cbPool = (options.callbacks ?? isPgPool(pool)) ? (pool as unknown as CallbackPool) : undefined;

  async function checkout(): Promise<TrackedClient> {
    let client: TrackedClient;
    try {
      client = (await pool.connect()) as TrackedClient;
    } catch (err) {
      // Anything raised while opening a connection (login, TLS, DNS, refused) is a connection failure.
      throw markConnectFailure(err);
    }
    return guard(client);
  }

  /**
   * Steady state (session already on the wanted search_path, no position work):
   * pg's callback API end to end, one promise per statement, like `pool.query`.
   */
  function run<R>(
    text: string,
    values: readonly unknown[] | undefined,
    s: SessionRequirements = NO_SESSION,
    done: RunSettled = NOOP,
    shape?: StatementShape,
  ): Promise<SessionRun<R>> {
    if (!cbPool || s.captureLsn || wantsPosition(s)) return slowRun(text, values, s, undefined, done, shape);
    return new Promise((resolve, reject) => {
      cbPool.connect((err, c) => {
        if (err || !c) {
          done(false);
          return reject(markConnectFailure(err ?? new Error('pool returned no client')));
        }
        const client = guard(c);
        if (client[SEARCH_PATH] !== s.searchPath)
          return slowRun<R>(text, values, s, client, done, shape).then(resolve, reject);
        const q = pgQueryOf(text, values, shape);
        client.query(
          q,
          q === text ? (values as unknown[] | undefined) : undefined,
          (qerr: Error | null, res: unknown) => {
            if (qerr) {
              client[SEARCH_PATH] = DIRTY;
              client.release(isConnectionError(qerr) || isClientTimeout(qerr) ? qerr : undefined);
              done(false);
              return reject(qerr);
            }
            let destroy: boolean | undefined;
            if (Array.isArray(res) || !STEADY_COMMANDS.has((res as QueryResult<R>).command)) {
              destroy = markCommands(client, res);
            }
            client.release(destroy);
            done(true);
            resolve({ result: lastResult<R>(res) });
          },
        );
      });
    });
  }

  async function slowRun<R>(
    text: string,
    values: readonly unknown[] | undefined,
    s: SessionRequirements,
    acquired: TrackedClient | undefined,
    done: RunSettled,
    shape?: StatementShape,
  ): Promise<SessionRun<R>> {
    let client: TrackedClient;
    try {
      client = acquired ?? (await checkout());
    } catch (err) {
      done(false);
      throw err;
    }
    let destroy: Error | boolean | undefined;
    let ok = false;
    try {
      const pre = settle(client, s.searchPath);
      if (pre !== undefined) {
        client[SEARCH_PATH] = DIRTY;
        await client.query(pre);
        client[SEARCH_PATH] = s.searchPath;
      }
      const position = wantsPosition(s) ? positionOf(await client.query(POSITION_SQL)) : undefined;
      if (position && isBehind(position, s.requireReplayLsn)) {
        // The node answered; it is only behind the caller's write. Not a failure of the node.
        ok = true;
        return skipped<R>(position);
      }
      const q = pgQueryOf(text, values, shape);
      const res = await client.query(q, q === text ? (values as unknown[] | undefined) : undefined);
      if (markCommands(client, res)) destroy = true;
      ok = true;
      const out: SessionRun<R> = { result: lastResult<R>(res) };
      if (position) out.position = position;
      if (s.captureLsn && !destroy) {
        // The statement has committed: a failure from here on must not turn it into a rejection.
        try {
          const lsn = lsnOf(await client.query(CAPTURE_LSN_SQL));
          if (lsn !== undefined) out.lsn = lsn;
        } catch (err) {
          client[SEARCH_PATH] = DIRTY;
          destroy = err instanceof Error ? err : true;
          out.lsnError = err;
        }
      }
      return out;
    } catch (err) {
      client[SEARCH_PATH] = DIRTY;
      if (breaks(err)) destroy = err instanceof Error ? err : true;
      throw err;
    } finally {
      client.release(destroy);
      done(ok);
    }
  }

  return {
    id,
    async query<R>(text: string, values?: readonly unknown[]) {
      return (await run<R>(text, values, NO_SESSION)).result as QueryResult<R>;
    },
    run,
    async withConnection<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
      const client = await checkout();
      // A checked-out pg client that loses its server (e.g. 57P01 on shutdown) emits 'error':
      // report it and discard the client.
      let lost: Error | undefined;
      const onError = (err: Error) => {
        lost = err;
        onIdleError?.(err);
      };
      client.on?.('error', onError);
      let broken: Error | undefined;
      try {
        // The reset of what an earlier user left (one statement) travels with fn's first statement
        // when that one opens a transaction without parameters (a simple-protocol `BEGIN ...` text:
        // one round trip, and nothing that refuses a transaction block); otherwise it goes first.
        let pre = settle(client, undefined);
        let reset: Promise<unknown> | undefined;
        client[SEARCH_PATH] = DIRTY;
        const conn: Connection = {
          query: async <R>(text: string, values?: readonly unknown[], shape?: StatementShape) => {
            if (pre !== undefined) {
              const sql = pre;
              pre = undefined;
              if ((values === undefined || values.length === 0) && opensTransaction(text)) {
                const res = (await client.query(`${sql}; ${text}`)) as QueryResult<R>[];
                return (res.length === 2 ? res[1] : res.slice(1)) as unknown as QueryResult<R>;
              }
              reset = client.query(sql);
            }
            // Statements issued meanwhile wait for the reset too, and keep their order.
            if (reset !== undefined) await reset;
            const q = pgQueryOf(text, values, shape);
            return client.query(q, q === text ? (values as unknown[] | undefined) : undefined) as Promise<
              QueryResult<R>
            >;
          },
          submit: <S extends object>(submittable: S) => (client as unknown as { query(s: S): S }).query(submittable),
        };
        if (canPipeline(client)) {
          conn.queryAfter = async <R>(prelude: readonly string[], text: string, values?: readonly unknown[]) => {
            if (reset !== undefined) await reset;
            // A reset still owed goes first in the same pipeline (one statement).
            const owed = pre;
            pre = undefined;
            const out = await pipelineQuery<R>(client, owed ? [owed, ...prelude] : prelude, text, values);
            return owed ? { result: out.result, prelude: out.prelude.slice(1) } : out;
          };
        }
        return await fn(conn);
      } catch (err) {
        // A session that failed mid-way may hold an aborted transaction or a lock: discard it.
        broken = err instanceof Error ? err : new Error(String(err));
        throw err;
      } finally {
        // Whatever fn did to the session (SET, prepared statements), the next statement starts with RESET ALL.
        client[SEARCH_PATH] = DIRTY;
        client.off?.('error', onError);
        client.release(broken ?? lost);
      }
    },
    stats(): PoolStats {
      return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
    },
    async end() {
      if (ended || !ownsPool) return;
      ended = true;
      await pool.end();
    },
  };
}
