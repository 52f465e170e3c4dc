import type { Connection, ConnectionProvider, PoolLike, PoolStats, QueryResult } from '@pg-multiverse/core';
import { parseLsn } from './lsn.js';
import { isClientTimeout, isConnectionError, markConnectFailure } from './pg-errors.js';

/**
 * Runs statements on one node with the right search_path.
 *
 * pg.Pool-backed nodes remember each pooled client's search_path on the
 * client object (a symbol). A statement for schema S issues
 * `SET search_path TO "S", public` only when that client is not already on
 * S, so with a steady mix of schemas every warm client ends up pinned and
 * there is no extra round trip. Clients whose session state we cannot vouch
 * for (after `withConnection`, a user `SET`, or any error) are marked dirty
 * and get `RESET ALL` before their next routed statement; clients left inside
 * a transaction by user SQL (`BEGIN`) are destroyed on release.
 */
export interface RunOptions {
  /** Already-quoted search_path (`"s", public`), or undefined for the server default. */
  searchPath?: string;
  /** After the statement, read `pg_current_wal_insert_lsn()` on the same session. */
  captureLsn?: boolean;
  /** Before the statement, check `pg_last_wal_replay_lsn()` on the same session; skip the statement if behind. */
  requireReplayLsn?: bigint;
  /**
   * Before the statement, read on the same session whether the server is in
   * recovery and its WAL position (replay position on a standby, insert
   * position on a primary): the result includes at least that position.
   */
  readPosition?: boolean;
}

/** What `readPosition` (or the `requireReplayLsn` check) saw just before the statement. */
export interface SeenPosition {
  inRecovery: boolean;
  lsn?: bigint;
}

export interface RunOutcome<R> {
  /** Undefined when `requireReplayLsn` was not reached (statement not run). */
  result: QueryResult<R> | undefined;
  /** Captured write position, or the replay position seen by the check. */
  lsn?: bigint;
  /** Set when `readPosition` or `requireReplayLsn` was asked for. */
  position?: SeenPosition;
  /**
   * `captureLsn`: the statement succeeded (and, in autocommit, committed) but reading the position
   * afterwards failed with this error. The result stands; the position is unknown.
   */
  lsnError?: unknown;
}

/** Called once when a run settles, before its promise does (latency bookkeeping without another promise). */
export type Settled = (ok: boolean) => void;

const NOOP: Settled = () => {};

export interface NodeExecutor {
  run<R>(sql: string, params: readonly unknown[] | undefined, o: RunOptions, done?: Settled): Promise<RunOutcome<R>>;
  /** The ConnectionProvider other packages use (tx, migrate); sessions it hands out come back marked dirty. */
  readonly provider: ConnectionProvider;
  stats(): PoolStats;
  end(): Promise<void>;
}

interface PoolClientish {
  query(text: string, values?: unknown[]): Promise<unknown>;
  query(text: string, values: unknown[] | undefined, cb: (err: Error | null, res: unknown) => void): void;
  release(destroy?: boolean | Error): void;
  on?(event: 'error', listener: (err: Error) => void): unknown;
  [SEARCH_PATH]?: string;
  [GUARDED]?: true;
}

const GUARDED = Symbol('pgm.errorGuard');

/**
 * pg-pool removes its error listener while a client is checked out, and a
 * connection dying between two statements (or after a failed one) would then
 * emit an unhandled 'error'. Every client we touch gets one permanent listener.
 */
async function checkout(pool: PoolLike): Promise<PoolClientish> {
  let client: PoolClientish;
  try {
    client = (await pool.connect()) as PoolClientish;
  } catch (err) {
    throw markConnectFailure(err);
  }
  return guard(client);
}

function guard(client: PoolClientish): PoolClientish {
  if (!client[GUARDED]) {
    client[GUARDED] = true;
    client.on?.('error', () => {
      client[SEARCH_PATH] = DIRTY;
    });
  }
  return client;
}

const SEARCH_PATH = Symbol('pgm.searchPath');
const DIRTY = '\u0000dirty';
const SESSION_COMMANDS = new Set(['SET', 'RESET', 'DISCARD', 'LISTEN', 'UNLISTEN', 'PREPARE', 'DEALLOCATE', 'LOAD']);
const TX_COMMANDS = new Set(['BEGIN', 'START', 'SAVEPOINT']);
const STEADY_COMMANDS = new Set(['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'MERGE', 'COPY', 'FETCH', 'MOVE', 'CALL']);

interface CallbackPool {
  connect(cb: (err: Error | undefined, client: PoolClientish | undefined) => void): void;
}

/** Note session-changing commands in a result; true when the client must be destroyed (left in a transaction). */
function markCommands(client: PoolClientish, res: { command: string } | { command: string }[]): boolean {
  let destroy = false;
  for (const r of Array.isArray(res) ? res : [res]) {
    if (TX_COMMANDS.has(r.command)) destroy = true;
    else if (SESSION_COMMANDS.has(r.command)) client[SEARCH_PATH] = DIRTY;
  }
  return destroy;
}

function settle(client: PoolClientish, want: string | undefined): string | undefined {
  const cur = client[SEARCH_PATH];
  if (cur === want) return undefined;
  const reset = cur === DIRTY ? 'RESET ALL' : undefined;
  if (want === undefined) return reset ?? 'RESET search_path';
  return reset ? `${reset}; SET search_path TO ${want}` : `SET search_path TO ${want}`;
}

function lsnOf(r: unknown): bigint | undefined {
  return parseLsn((r as QueryResult<{ l: string | null }>).rows[0]?.l);
}

/** One round trip: role and the WAL position a statement run next on this session will include. */
const POSITION_SQL =
  'SELECT pg_is_in_recovery() AS r, (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text AS l';

function positionOf(r: unknown): SeenPosition {
  const row = (r as QueryResult<{ r: boolean; l: string | null }>).rows[0];
  const lsn = parseLsn(row?.l);
  return lsn === undefined ? { inRecovery: row?.r !== false } : { inRecovery: row?.r !== false, lsn };
}

/** A standby that has not replayed `need` yet (a primary has everything it acknowledged). */
function behind(p: SeenPosition, need: bigint | undefined): boolean {
  return need !== undefined && p.inRecovery && (p.lsn === undefined || p.lsn < need);
}

/** The position before the statement, when `o` asks for it (`readPosition` or `requireReplayLsn`). */
async function checkPosition(q: (text: string) => Promise<unknown>, o: RunOptions): Promise<SeenPosition | undefined> {
  if (o.requireReplayLsn === undefined && !o.readPosition) return undefined;
  return positionOf(await q(POSITION_SQL));
}

/** Executor over a pg.Pool-like pool (ours or the application's). */
export function poolExecutor(
  pool: PoolLike,
  id: string,
  opts: { ownsPool: boolean; onIdleError: (err: Error) => void; callbacks?: boolean },
): NodeExecutor {
  pool.on?.('error', (err) => opts.onIdleError(err));
  let ended = false;
  const cbPool = opts.callbacks ? (pool as unknown as CallbackPool) : undefined;

  /**
   * Steady state (client already on the wanted search_path, no LSN work): pg's
   * callback API end to end, one promise per statement, like `pool.query`.
   */
  function run<R>(
    sql: string,
    params: readonly unknown[] | undefined,
    o: RunOptions,
    done: Settled = NOOP,
  ): Promise<RunOutcome<R>> {
    if (!cbPool || o.captureLsn || o.requireReplayLsn !== undefined || o.readPosition)
      return slowRun(sql, params, o, undefined, done);
    return new Promise((resolve, reject) => {
      cbPool.connect((err, c) => {
        if (err || !c) {
          done(false);
          return reject(markConnectFailure(err ?? new Error('pool returned no client')));
        }
        const client = guard(c);
        if (client[SEARCH_PATH] !== o.searchPath) return slowRun<R>(sql, params, o, client, done).then(resolve, reject);
        client.query(sql, params as unknown[] | undefined, (qerr: Error | null, res: unknown) => {
          if (qerr) {
            client[SEARCH_PATH] = DIRTY;
            client.release(isConnectionError(qerr) || isClientTimeout(qerr) ? qerr : undefined);
            done(false);
            return reject(qerr);
          }
          let destroy: boolean | undefined;
          if (Array.isArray(res) || !STEADY_COMMANDS.has((res as QueryResult<R>).command)) {
            destroy = markCommands(client, res as QueryResult<R> | QueryResult<R>[]);
          }
          client.release(destroy);
          done(true);
          resolve({ result: (Array.isArray(res) ? res[res.length - 1] : res) as QueryResult<R> });
        });
      });
    });
  }

  async function slowRun<R>(
    sql: string,
    params: readonly unknown[] | undefined,
    o: RunOptions,
    acquired: PoolClientish | undefined,
    done: Settled,
  ): Promise<RunOutcome<R>> {
    let client: PoolClientish;
    try {
      client = acquired ?? (await checkout(pool));
    } catch (err) {
      done(false);
      throw err;
    }
    let destroy: Error | boolean | undefined;
    let ok = false;
    try {
      const pre = settle(client, o.searchPath);
      if (pre !== undefined) {
        client[SEARCH_PATH] = DIRTY;
        await client.query(pre);
        client[SEARCH_PATH] = o.searchPath;
      }
      const position = await checkPosition((t) => client.query(t), o);
      if (position && behind(position, o.requireReplayLsn)) {
        // The node answered; it is only behind the caller's write. Not a failure of the node.
        ok = true;
        return { result: undefined, ...(position.lsn !== undefined ? { lsn: position.lsn } : {}), position };
      }
      const res = (await client.query(sql, params as unknown[] | undefined)) as QueryResult<R> | QueryResult<R>[];
      const last = Array.isArray(res) ? res[res.length - 1] : res;
      if (markCommands(client, res)) destroy = true;
      ok = true;
      const out: RunOutcome<R> = { result: last as QueryResult<R> };
      if (position) out.position = position;
      if (o.captureLsn && !destroy) {
        // The statement has committed: a failure from here on must not turn it into a rejection.
        try {
          const lsn = lsnOf(await client.query('SELECT pg_current_wal_insert_lsn()::text AS l'));
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
      if (isConnectionError(err) || isClientTimeout(err) || !(err instanceof Error)) {
        destroy = err instanceof Error ? err : true;
      }
      throw err;
    } finally {
      client.release(destroy);
      done(ok);
    }
  }

  const provider: ConnectionProvider = {
    id,
    async query<R>(text: string, values?: readonly unknown[]) {
      return (await run<R>(text, values, {})).result as QueryResult<R>;
    },
    async withConnection<T>(fn: (c: Connection) => Promise<T>): Promise<T> {
      const client = await checkout(pool);
      let broken: Error | undefined;
      try {
        const pre = settle(client, undefined);
        if (pre !== undefined) await client.query(pre);
        client[SEARCH_PATH] = DIRTY;
        const conn: Connection = {
          query: <R>(text: string, values?: readonly unknown[]) =>
            client.query(text, values as unknown[] | undefined) as Promise<QueryResult<R>>,
        };
        return await fn(conn);
      } catch (err) {
        broken = err instanceof Error ? err : new Error(String(err));
        throw err;
      } finally {
        client[SEARCH_PATH] = DIRTY;
        client.release(broken);
      }
    },
    stats,
    end,
  };

  function stats(): PoolStats {
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
  }
  async function end(): Promise<void> {
    if (ended || !opts.ownsPool) return;
    ended = true;
    await pool.end();
  }
  return { run, provider, stats, end };
}

/**
 * Executor over an application-supplied ConnectionProvider: schema-qualified
 * statements run in a dedicated session that sets and then resets the
 * search_path (one extra round trip each way; documented).
 */
export function providerExecutor(provider: ConnectionProvider): NodeExecutor {
  async function run<R>(
    sql: string,
    params: readonly unknown[] | undefined,
    o: RunOptions,
    done: Settled = NOOP,
  ): Promise<RunOutcome<R>> {
    let ok = false;
    try {
      const out = await runInner<R>(sql, params, o);
      ok = true;
      return out;
    } finally {
      done(ok);
    }
  }
  async function runInner<R>(
    sql: string,
    params: readonly unknown[] | undefined,
    o: RunOptions,
  ): Promise<RunOutcome<R>> {
    if (o.searchPath === undefined && !o.captureLsn && o.requireReplayLsn === undefined && !o.readPosition) {
      return { result: await provider.query<R>(sql, params) };
    }
    return provider.withConnection(async (c) => {
      if (o.searchPath !== undefined) await c.query(`SET search_path TO ${o.searchPath}`);
      try {
        const position = await checkPosition((t) => c.query(t), o);
        if (position && behind(position, o.requireReplayLsn)) {
          return { result: undefined, ...(position.lsn !== undefined ? { lsn: position.lsn } : {}), position };
        }
        const result = await c.query<R>(sql, params);
        const out: RunOutcome<R> = { result };
        if (position) out.position = position;
        if (o.captureLsn) {
          try {
            const lsn = lsnOf(await c.query('SELECT pg_current_wal_insert_lsn()::text AS l'));
            if (lsn !== undefined) out.lsn = lsn;
          } catch (err) {
            out.lsnError = err;
          }
        }
        return out;
      } finally {
        if (o.searchPath !== undefined) await c.query('RESET search_path').catch(() => undefined);
      }
    });
  }
  return { run, provider, stats: () => provider.stats(), end: async () => {} };
}
