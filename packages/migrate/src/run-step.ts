import type { Connection, QueryResult } from '@pg-multiverse/core';
import { isConnectionError, locationOf, quoteIdent, searchPathFor } from '@pg-multiverse/core';
import { type ControlTables, historySql } from './control-tables.js';
import { createNestingRewriter } from './nested-transactions.js';
import type { PlannedStep } from './plan.js';
import type { MigrationContext, MigrationLogger } from './types.js';

export interface StepOptions {
  tables: ControlTables;
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
 * The step's opening round trip failed on a broken connection: nothing of the
 * step ran (a transaction it began ends with the connection), so it may run
 * again on another session.
 */
export class SessionLostError extends Error {
  constructor(override readonly cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause));
    this.name = 'SessionLostError';
  }
}

/** The opening round trip of a step: a connection failure there is a `SessionLostError`. */
async function open(conn: Connection, sql: string): Promise<unknown> {
  try {
    return await conn.query(sql);
  } catch (err) {
    throw isConnectionError(err) ? new SessionLostError(err) : err;
  }
}

/** `plain` of PLAIN_SESSION_SQL, the second result of the opening round trip (false when unreadable). */
function plainOf(results: unknown): boolean {
  const r = Array.isArray(results) ? (results[1] as { rows?: Array<{ plain?: unknown }> } | undefined) : undefined;
  return r?.rows?.[0]?.plain === true;
}

/** True when a step runs inside its own transaction (and may share its session with later steps). */
export function isTransactional(step: PlannedStep): boolean {
  return step.forget !== undefined || step.migration?.transaction !== false;
}

/**
 * Run one (migration, target) step on `conn`, a session kept for the run
 * (server-default settings when the step starts). Transactional steps take
 * three round trips of their own: `BEGIN` with the schema on the `search_path`
 * (SET LOCAL); the migration's statements; the history row with `COMMIT`,
 * followed by `RESET ALL` so a `SET` of the migration does not reach the next
 * step. A failure rolls everything back. `transaction: false` steps run in
 * autocommit with a session `search_path`; their session is not reused.
 * Returns whether the session may serve the next step (transactional, and
 * in the state its provider's reset would leave it in).
 */
export async function runStep(conn: Connection, step: PlannedStep, opts: StepOptions): Promise<boolean> {
  const m = step.migration;
  const transactional = isTransactional(step);
  const searchPath = searchPathFor(step.schema);
  const sql = historySql(opts.tables);
  const started = performance.now();
  const rewrite = transactional ? createNestingRewriter() : (s: string) => s;
  const context: MigrationContext = {
    schema: step.schema,
    cluster: step.cluster,
    ...(step.shard !== undefined ? { shard: step.shard } : {}),
    migration: m!,
    direction: step.direction,
    logger: prefixed(opts.logger, `[${step.version} ${step.schema}@${locationOf(step)}]`),
    query: <R>(text: string, params?: readonly unknown[]) =>
      conn.query<R>(rewrite(text), params) as Promise<QueryResult<R>>,
  };
  const createSchema =
    opts.ensureSchema && step.direction === 'up' ? `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(step.schema)}; ` : '';
  const up = async () => {
    if (step.forget === undefined) {
      const fn = step.direction === 'up' ? m!.up : m!.down!;
      await fn.call(m, context);
    }
  };
  if (transactional) {
    const opened = await open(
      conn,
      opts.checkSession
        ? `BEGIN; ${PLAIN_SESSION_SQL}; ${createSchema}SET LOCAL search_path TO ${searchPath}`
        : `BEGIN; ${createSchema}SET LOCAL search_path TO ${searchPath}`,
    );
    const reusable = !opts.checkSession || plainOf(opened);
    try {
      await up();
      const ms = performance.now() - started;
      await conn.query(
        `${
          step.direction === 'up'
            ? sql.insertAndCommit({
                schema: step.schema,
                version: m!.version,
                name: m!.name,
                checksum: m!.checksum,
                ms,
                holder: opts.holder,
              })
            : sql.removeAndCommit(step.schema, step.version)
        }; RESET ALL`,
      );
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => {});
      throw err;
    }
    return reusable;
  }
  await open(conn, `${createSchema}SET search_path TO ${searchPath}`);
  await up();
  const ms = Math.round(performance.now() - started);
  if (step.direction === 'up') {
    await conn.query(sql.insert, [step.schema, m!.version, m!.name, m!.checksum, ms, opts.holder]);
  } else {
    await conn.query(sql.remove, [step.schema, step.version]);
  }
  return false;
}
