import type {
  ConnectionProvider,
  QueryResult,
  RunSettled,
  SessionPosition,
  SessionRequirements,
  SessionRun,
  StatementShape,
} from './contracts/connection-provider.js';
import { lsnToBigInt } from './contracts/freshness.js';
import { PgmError } from './errors.js';
import { hasShape } from './statement-shape.js';

/**
 * The statements behind `SessionRequirements`, shared by `poolProvider.run`
 * and the fallback `runStatement` uses for providers without `run`.
 */

/** One round trip: role and the WAL position a statement run next on this session will include. */
export const POSITION_SQL =
  'SELECT pg_is_in_recovery() AS r, (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END)::text AS l';

/** The write position after a statement. */
export const CAPTURE_LSN_SQL = 'SELECT pg_current_wal_insert_lsn()::text AS l';

const NO_SESSION: SessionRequirements = Object.freeze({});

/** True when `s` asks for nothing: any pooled session will do (`query`). */
export function isPlainSession(s: SessionRequirements): boolean {
  return s.searchPath === undefined && !s.captureLsn && s.requireReplayLsn === undefined && !s.readPosition;
}

/** True when `s` needs the position read before the statement. */
export function wantsPosition(s: SessionRequirements): boolean {
  return s.requireReplayLsn !== undefined || s.readPosition === true;
}

/** The last result of a (possibly multi-statement) `pg` result. */
export function lastResult<R>(res: unknown): QueryResult<R> {
  return (Array.isArray(res) ? res[res.length - 1] : res) as QueryResult<R>;
}

/** The `l` column of `CAPTURE_LSN_SQL` as a bigint. */
export function lsnOf(r: unknown): bigint | undefined {
  return lsnToBigInt(lastResult<{ l: string | null }>(r).rows[0]?.l ?? undefined);
}

/** The row of `POSITION_SQL`. */
export function positionOf(r: unknown): SessionPosition {
  const row = lastResult<{ r: boolean; l: string | null }>(r).rows[0];
  const lsn = lsnToBigInt(row?.l ?? undefined);
  return lsn === undefined ? { inRecovery: row?.r !== false } : { inRecovery: row?.r !== false, lsn };
}

/** A standby that has not replayed `need` yet (a primary has everything it acknowledged). */
export function isBehind(p: SessionPosition, need: bigint | undefined): boolean {
  return need !== undefined && p.inRecovery && (p.lsn === undefined || p.lsn < need);
}

/** The outcome of a statement skipped by `requireReplayLsn`. */
export function skipped<R>(position: SessionPosition): SessionRun<R> {
  return position.lsn !== undefined
    ? { result: undefined, lsn: position.lsn, position }
    : { result: undefined, position };
}

/**
 * Run one statement on `provider` with `session`: through `provider.run` when it
 * has it, else with `query` / `withConnection`:
 *
 * - nothing asked (`{}`): `provider.query(text, values)`, 1 statement.
 * - otherwise one session from `withConnection`, and the statements one after
 *   another (each once the one before has settled, failed or not; never two at
 *   once on one client, which `pg` deprecates): `SET search_path TO ...` (if
 *   asked), the position read (if asked), the statement,
 *   `pg_current_wal_insert_lsn()` (if `captureLsn`), `RESET search_path` (if
 *   set): 3 statements and 3 round trips for a schema query. Each is its own
 *   implicit transaction, so a failing statement does not skip the `RESET`.
 *   With `requireReplayLsn` the statement waits for the position (it must not
 *   run on a standby that is behind). Implement `run` (or delegate it to
 *   `poolProvider`) for one round trip per statement.
 *
 * `settled` (if given) is called once before the promise settles. `shape` (rowMode,
 * types, name) needs a provider with `run`: the fallback cannot pass it through
 * `query(text, values)`, so it refuses the statement (`INVALID_ARGUMENT`) rather
 * than return rows of another shape.
 */
export function runStatement<R = Record<string, unknown>>(
  provider: ConnectionProvider,
  text: string,
  values: readonly unknown[] | undefined,
  session: SessionRequirements = NO_SESSION,
  settled?: RunSettled,
  shape?: StatementShape,
): Promise<SessionRun<R>> {
  if (provider.run) return provider.run<R>(text, values, session, settled, shape);
  if (hasShape(shape)) {
    settled?.(false);
    return Promise.reject(
      new PgmError(
        'INVALID_ARGUMENT',
        `the connection provider ${provider.id} has no run(), so it cannot honour rowMode, types or a statement name; implement run() (or wrap a pg.Pool with poolProvider) to use them`,
      ),
    );
  }
  const out = viaConnection<R>(provider, text, values, session);
  if (!settled) return out;
  return out.then(
    (r) => {
      settled(true);
      return r;
    },
    (err) => {
      settled(false);
      throw err;
    },
  );
}

/** Thrown out of `withConnection` so the provider discards a session whose cleanup failed; carries the result. */
class DiscardSession<R> {
  constructor(readonly out: SessionRun<R>) {}
}

async function viaConnection<R>(
  provider: ConnectionProvider,
  text: string,
  values: readonly unknown[] | undefined,
  s: SessionRequirements,
): Promise<SessionRun<R>> {
  if (isPlainSession(s)) return { result: lastResult<R>(await provider.query<R>(text, values)) };
  return provider
    .withConnection(async (c): Promise<SessionRun<R>> => {
      const sent: Promise<unknown>[] = [];
      // One statement at a time on the session (pg deprecates overlapping queries on one client), each
      // sent once the one before has settled, failed or not: a failing statement never skips the RESET.
      let last: Promise<unknown> = Promise.resolve();
      const send = (t: string, v?: readonly unknown[]) => {
        const run = () => c.query(t, v);
        const p = last.then(run, run);
        p.catch(() => undefined); // settled below; never an unhandled rejection
        sent.push(p);
        last = p;
        return p;
      };
      const reset = s.searchPath !== undefined;
      const set = reset ? send(`SET search_path TO ${s.searchPath}`) : undefined;
      const pos = wantsPosition(s) ? send(POSITION_SQL) : undefined;
      let position: SessionPosition | undefined;
      if (s.requireReplayLsn !== undefined) {
        await set;
        position = positionOf(await pos);
        if (isBehind(position, s.requireReplayLsn)) {
          if (reset) await c.query('RESET search_path');
          return skipped<R>(position);
        }
      }
      const main = send(text, values);
      const upTo = sent.length; // SET, position, statement: their failure is the statement's
      const lsn = s.captureLsn ? send(CAPTURE_LSN_SQL) : undefined;
      if (reset) send('RESET search_path');
      // Wait for every statement (the session is idle again), then the first failure wins (a failed
      // SET means the statement ran on the wrong search_path); throwing makes the provider discard the session.
      const settled = await Promise.allSettled(sent);
      for (let i = 0; i < upTo; i++) {
        const r = settled[i]!;
        if (r.status === 'rejected') throw r.reason;
      }
      const out: SessionRun<R> = { result: lastResult<R>(await main) };
      if (pos && !position) position = positionOf(await pos);
      if (position) out.position = position;
      // The statement has committed: a failed position read or RESET must not turn it into a rejection.
      let cleanupFailed = false;
      for (let i = upTo; i < settled.length; i++) {
        const r = settled[i]!;
        if (r.status === 'rejected') {
          cleanupFailed = true;
          if (lsn && sent[i] === lsn) out.lsnError = r.reason;
        }
      }
      if (lsn && out.lsnError === undefined) {
        const l = lsnOf(await lsn);
        if (l !== undefined) out.lsn = l;
      }
      if (cleanupFailed) throw new DiscardSession(out);
      return out;
    })
    .catch((err: unknown) => {
      if (err instanceof DiscardSession) return err.out as SessionRun<R>;
      throw err;
    });
}
