import type { Connection, QueryResult } from '@pg-multiverse/core';
import { isConnectionError, locationOf, quoteIdent, searchPathFor } from '@pg-multiverse/core';
import type { HistorySql } from './control-tables.js';
import { createNestingRewriter } from './nested-transactions.js';
import type { PlannedStep } from './plan.js';
import type { LoadedMigration, MigrationContext, MigrationDirection, MigrationLogger } from './types.js';

export interface StepOptions {
  /** The history statements of the run's control tables (built once per manager). */
  history: HistorySql;
  holder: string;
  logger: MigrationLogger;
  /** Create the target schema first (first step on a target in a run). */
  ensureSchema: boolean;
  /**
   * The session is fresh from its provider: find out (in the opening round trip)
   * whether the provider handed it out with session settings of its own (a `SET`,
   * `SET ROLE`), which the `RESET ALL` after the step would undo for later steps.
   */
  checkSession: boolean;
}

/** True when the session has no `SET` of its own and runs as its login role: `RESET ALL` brings it back to this state. */
const PLAIN_SESSION_SQL =
  "SELECT current_user = session_user AND NOT EXISTS (SELECT 1 FROM pg_settings WHERE source = 'session') AS plain";

function prefixed(logger: MigrationLogger, prefix: string): MigrationLogger {
  return {
    info: (m, ...a) => logger.info(`${prefix} ${m}`, ...a),
    warn: (m, ...a) => logger.warn(`${prefix} ${m}`, ...a),
    error: (m, ...a) => logger.error(`${prefix} ${m}`, ...a),
    debug: (m, ...a) => logger.debug?.(`${prefix} ${m}`, ...a),
  };
}

/**
 * The round trip that opened the step failed on a broken connection: nothing
 * of the step reached the database (a transaction it began ends with the
 * connection), so on a kept session (which may have died while idle) the step
 * may run again on another one.
 */
export class SessionLostError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'SessionLostError';
  }
}

/** True when a step runs inside its own transaction (and may share its session with later steps). */
export function isTransactional(step: PlannedStep): boolean {
  return step.forget !== undefined || step.migration?.transaction !== false;
}

/**
 * What `up()`/`down()` receive. A class, so a step costs one object: the
 * prefixed logger is built only when a migration asks for it.
 */
class StepContext implements MigrationContext {
  readonly schema: string;
  readonly cluster: string;
  declare readonly shard?: string;
  readonly migration: LoadedMigration;
  readonly direction: MigrationDirection;
  readonly query: MigrationContext['query'];
  #logger: MigrationLogger | undefined;
  readonly #base: MigrationLogger;
  readonly #step: PlannedStep;

  constructor(step: PlannedStep, base: MigrationLogger, query: MigrationContext['query']) {
    this.schema = step.schema;
    this.cluster = step.cluster;
    if (step.shard !== undefined) this.shard = step.shard;
    this.migration = step.migration!;
    this.direction = step.direction;
    this.query = query;
    this.#base = base;
    this.#step = step;
  }

  get logger(): MigrationLogger {
    this.#logger ??= prefixed(this.#base, `[${this.#step.version} ${this.#step.schema}@${locationOf(this.#step)}]`);
    return this.#logger;
  }
}

/** The result a text of no statement gets (as pg reports an empty query). */
const emptyResult = <R>(): QueryResult<R> => ({ command: '', rowCount: null, rows: [], fields: [] });

/**
 * Run one (migration, target) step on `conn`, a session kept for the run
 * (server-default settings when the step starts).
 *
 * A transactional step takes two round trips of its own: the opening
 * (`BEGIN`, the schema first on the `search_path` by `SET LOCAL`) travels
 * with the migration's first statement (in one simple-protocol message, or
 * pipelined before a statement with parameters when the connection has
 * `queryAfter`), and the history row travels with `COMMIT` and `RESET ALL`
 * (so a `SET` of the migration does not reach the next step). A migration
 * that runs no statement costs one round trip: opening, history row and
 * `COMMIT` together. A failure rolls everything back. When the round trip
 * that carried the opening failed on a broken connection, nothing reached the
 * database: `SessionLostError` (once `up` has settled).
 *
 * `transaction: false` steps run in autocommit with a session `search_path`;
 * their session is not reused. Returns whether the session may serve the
 * next step (transactional, and in the state its provider's reset would
 * leave it in).
 */
export async function runStep(conn: Connection, step: PlannedStep, opts: StepOptions): Promise<boolean> {
  const searchPath = searchPathFor(step.schema);
  const createSchema =
    opts.ensureSchema && step.direction === 'up' ? `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(step.schema)}` : undefined;
  if (!isTransactional(step)) return runAutocommit(conn, step, opts, searchPath, createSchema);

  const m = step.migration;
  const started = performance.now();
  const rewrite = createNestingRewriter();
  // Statements owed before the migration's first one (sent with it): BEGIN, the session check, the schema.
  let opening: string[] | undefined = ['BEGIN'];
  if (opts.checkSession) opening.push(PLAIN_SESSION_SQL);
  if (createSchema !== undefined) opening.push(createSchema);
  opening.push(`SET LOCAL search_path TO ${searchPath}`);
  let reusable = !opts.checkSession;
  /** The failure of the round trip that carried the opening (the transaction is aborted or gone). */
  let openFailure: { error: unknown } | undefined;

  const withOpening = async <R>(prelude: string[], text: string, params?: readonly unknown[]) => {
    try {
      if (conn.queryAfter) {
        // Observed (router sessions) as the migration's statement alone.
        const out = await conn.queryAfter<R>(prelude, text, params);
        if (opts.checkSession) reusable = out.prelude[1]?.[0] === 't';
        return out.result;
      }
      if ((params !== undefined && params.length > 0) || text.trim() === '') {
        reusable = plainOf(await conn.query(prelude.join('; ')), opts.checkSession);
        return await conn.query<R>(text, params);
      }
      const res = (await conn.query(`${prelude.join('; ')}; ${text}`)) as unknown;
      reusable = plainOf(res, opts.checkSession);
      const mine = Array.isArray(res) ? res.slice(prelude.length) : [];
      return (mine.length === 0 ? emptyResult<R>() : mine.length === 1 ? mine[0] : mine) as QueryResult<R>;
    } catch (error) {
      openFailure ??= { error };
      throw error;
    }
  };
  const query = <R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    const sql = rewrite(text);
    if (opening === undefined) return conn.query<R>(sql, params) as Promise<QueryResult<R>>;
    const prelude = opening;
    opening = undefined;
    return withOpening<R>(prelude, sql, params);
  };

  const context = new StepContext(step, opts.logger, query);
  try {
    if (step.forget === undefined) {
      const fn = step.direction === 'up' ? m!.up : m!.down!;
      await fn.call(m, context);
    }
    // The migration swallowed the failure of its opening round trip: the step fails with it.
    if (openFailure) throw openFailure.error;
    const close = `${
      step.direction === 'up'
        ? opts.history.insertAndCommit({
            schema: step.schema,
            version: m!.version,
            name: m!.name,
            checksum: m!.checksum,
            ms: performance.now() - started,
            holder: opts.holder,
          })
        : opts.history.removeAndCommit(step.schema, step.version)
    }; RESET ALL`;
    if (opening === undefined) await conn.query(close);
    else {
      // No statement ran: the opening travels with the history row and COMMIT.
      const prelude = opening;
      opening = undefined;
      await withOpening(prelude, close);
    }
  } catch (err) {
    if (openFailure !== undefined && isConnectionError(openFailure.error))
      throw new SessionLostError(openFailure.error);
    await conn.query('ROLLBACK').catch(() => {});
    throw err;
  }
  return reusable;
}

/** `plain` of PLAIN_SESSION_SQL, the second result of the opening round trip (false when unreadable); true unless `checked`. */
function plainOf(results: unknown, checked: boolean): boolean {
  if (!checked) return true;
  const r = Array.isArray(results) ? (results[1] as { rows?: Array<{ plain?: unknown }> } | undefined) : undefined;
  return r?.rows?.[0]?.plain === true;
}

/** A `transaction: false` step: session `search_path`, the migration's statements, the history row (autocommit). */
async function runAutocommit(
  conn: Connection,
  step: PlannedStep,
  opts: StepOptions,
  searchPath: string,
  createSchema: string | undefined,
): Promise<boolean> {
  const m = step.migration!;
  const started = performance.now();
  const sql = `${createSchema !== undefined ? `${createSchema}; ` : ''}SET search_path TO ${searchPath}`;
  try {
    await conn.query(sql);
  } catch (err) {
    throw isConnectionError(err) ? new SessionLostError(err) : err;
  }
  const context = new StepContext(step, opts.logger, <R>(text: string, params?: readonly unknown[]) =>
    conn.query<R>(text, params),
  );
  const fn = step.direction === 'up' ? m.up : m.down!;
  await fn.call(m, context);
  const ms = Math.round(performance.now() - started);
  if (step.direction === 'up') {
    await conn.query(opts.history.insert, [step.schema, m.version, m.name, m.checksum, ms, opts.holder]);
  } else {
    await conn.query(opts.history.remove, [step.schema, step.version]);
  }
  return false;
}
