import type { Connection, ConnectionProvider, QueryResult } from '@pg-multiverse/core';
import { locationOf, quoteIdent, searchPathFor } from '@pg-multiverse/core';
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
}

function prefixed(logger: MigrationLogger, prefix: string): MigrationLogger {
  return {
    info: (m, ...a) => logger.info(`${prefix} ${m}`, ...a),
    warn: (m, ...a) => logger.warn(`${prefix} ${m}`, ...a),
    error: (m, ...a) => logger.error(`${prefix} ${m}`, ...a),
    debug: (m, ...a) => logger.debug?.(`${prefix} ${m}`, ...a),
  };
}

/**
 * Run one (migration, target) step on its own session. Transactional steps:
 * `BEGIN`, schema on the `search_path` (SET LOCAL), `up`/`down`, history row,
 * `COMMIT` — a failure leaves nothing behind. `transaction: false` steps run
 * in autocommit with a session `search_path` restored afterwards.
 */
export async function runStep(provider: ConnectionProvider, step: PlannedStep, opts: StepOptions): Promise<number> {
  const m = step.migration;
  const transactional = step.forget !== undefined || m?.transaction !== false;
  const searchPath = searchPathFor(step.schema);
  const sql = historySql(opts.tables);
  return provider.withConnection(async (conn) => {
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
    const body = async (c: Connection) => {
      if (step.forget === undefined) {
        const fn = step.direction === 'up' ? m!.up : m!.down!;
        await fn.call(m, context);
      }
      const ms = Math.round(performance.now() - started);
      if (step.direction === 'up') {
        await c.query(sql.insert, [step.schema, m!.version, m!.name, m!.checksum, ms, opts.holder]);
      } else {
        await c.query(sql.remove, [step.schema, step.version]);
      }
    };
    if (transactional) {
      await conn.query('BEGIN');
      try {
        if (opts.ensureSchema && step.direction === 'up') {
          await conn.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(step.schema)}`);
        }
        await conn.query("SELECT set_config('search_path', $1, true)", [searchPath]);
        await body(conn);
        await conn.query('COMMIT');
      } catch (err) {
        await conn.query('ROLLBACK').catch(() => {});
        throw err;
      }
    } else {
      if (opts.ensureSchema && step.direction === 'up') {
        await conn.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(step.schema)}`);
      }
      const saved = await conn.query<{ p: string }>("SELECT current_setting('search_path') AS p");
      await conn.query("SELECT set_config('search_path', $1, false)", [searchPath]);
      try {
        await body(conn);
      } finally {
        await conn.query("SELECT set_config('search_path', $1, false)", [saved.rows[0]!.p]);
      }
    }
    return Math.round(performance.now() - started);
  });
}
