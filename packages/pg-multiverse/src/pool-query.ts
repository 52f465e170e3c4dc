import { PgmError, type QueryResult, type StatementShape } from '@pg-multiverse/core';

/** node-postgres' query callback. */
export type QueryCallback = (err: Error | null, result?: QueryResult<any>) => void;

/** One `query(...)` call of node-postgres' API, normalized as pg's `normalizeQueryConfig` does. */
export interface PoolQuery {
  text: string;
  values: unknown[];
  shape: StatementShape | undefined;
  callback: QueryCallback | undefined;
}

/**
 * `query(text, values?, callback?)`, `query(config, values?, callback?)` and
 * `query(text | config, callback)`: the forms node-postgres takes. A
 * `Submittable` (pg-cursor, pg-query-stream) and anything else are refused.
 */
export function parseQueryArgs(a: unknown, b: unknown, c: unknown): PoolQuery {
  let text: unknown;
  let values: unknown;
  let callback: unknown;
  let shape: StatementShape | undefined;
  if (typeof a === 'string') {
    text = a;
  } else if (a !== null && typeof a === 'object') {
    const config = a as {
      text?: unknown;
      values?: unknown;
      rowMode?: unknown;
      types?: unknown;
      name?: unknown;
      callback?: unknown;
      submit?: unknown;
    };
    if (typeof config.submit === 'function') {
      throw new PgmError(
        'INVALID_ARGUMENT',
        'pool.query(submittable): cursors and streams (pg-cursor, pg-query-stream) need one connection for their whole life, which a routing pool cannot promise; read in pages with LIMIT/OFFSET, or open a pg.Client on the node for streaming',
      );
    }
    text = config.text;
    values = config.values;
    callback = config.callback;
    if (config.rowMode !== undefined && config.rowMode !== 'array') {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `query(config): rowMode must be 'array' or absent, got ${String(config.rowMode)}`,
      );
    }
    if (
      config.types !== undefined &&
      (config.types === null || typeof (config.types as { getTypeParser?: unknown }).getTypeParser !== 'function')
    ) {
      throw new PgmError('INVALID_ARGUMENT', 'query(config): types must be an object with getTypeParser(oid, format)');
    }
    if (config.name !== undefined && (typeof config.name !== 'string' || config.name === '')) {
      throw new PgmError('INVALID_ARGUMENT', 'query(config): name must be a non-empty string');
    }
    // The config itself is the shape (its rowMode, types and name, checked above): no copy per
    // statement. pg reads a config when the statement is sent, as pg.Pool's query does.
    if (config.rowMode !== undefined || config.types !== undefined || config.name !== undefined) {
      shape = config as StatementShape;
    }
  } else {
    throw new PgmError('INVALID_ARGUMENT', 'query(text | config): pass the SQL text or a QueryConfig { text, values }');
  }
  if (typeof b === 'function') callback = b;
  else {
    if (b !== undefined) values = b;
    if (typeof c === 'function') callback = c;
  }
  if (typeof text !== 'string' || text.trim() === '') {
    throw new PgmError('INVALID_ARGUMENT', 'query(text | config): the SQL text must be a non-empty string');
  }
  if (values !== undefined && values !== null && !Array.isArray(values)) {
    throw new PgmError('INVALID_ARGUMENT', 'query(text, values): values must be an array');
  }
  return {
    text,
    values: (values as unknown[] | null | undefined) ?? [],
    shape,
    callback: callback as QueryCallback | undefined,
  };
}

/** Settle `promise` through node-postgres' callback (returning undefined), or return it. */
export function deliver<T>(promise: Promise<T>, callback: ((err: Error | null, r?: T) => void) | undefined) {
  if (!callback) return promise;
  promise.then(
    (r) => callback(null, r),
    (err: Error) => callback(err),
  );
  return undefined;
}

/** A statement the pool answers without a server (a `BEGIN` before the transaction's cluster is known). */
export function localResult(command: string): QueryResult<any> {
  return { command, rowCount: null, oid: null, rows: [], fields: [] };
}

/**
 * What the pool rejects with: a statement the server refused rejects with pg's own
 * `DatabaseError` (SQLSTATE in `code`, as libraries built on pg expect, e.g. `23505`),
 * the `PgmError` that carried it reachable as its `pgmError`; every other failure
 * (routing, connection, a refused call) is the `PgmError` itself.
 */
export function toPgError(err: unknown): unknown {
  if (!(err instanceof PgmError) || err.code !== 'QUERY_FAILED') return err;
  const cause = (err as { cause?: unknown }).cause as { code?: unknown } | undefined;
  if (!(cause instanceof Error) || typeof cause.code !== 'string' || !/^[0-9A-Z]{5}$/.test(cause.code)) return err;
  if (!('pgmError' in cause)) Object.defineProperty(cause, 'pgmError', { value: err, enumerable: false });
  return cause;
}

/** A call whose arguments were refused: through its callback if it has one (as pg does), else a rejection. */
export function deliverError(err: unknown, a: unknown, b: unknown, c: unknown): Promise<never> | undefined {
  const cb = [c, b, (a as { callback?: unknown } | null)?.callback].find((f) => typeof f === 'function') as
    | QueryCallback
    | undefined;
  if (!cb) return Promise.reject(err);
  process.nextTick(() => cb(err as Error));
  return undefined;
}
