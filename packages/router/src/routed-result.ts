import type { FieldInfo, QueryResult } from '@pg-multiverse/core';
import type { RouteInfo } from './types.js';

const ROUTE = Symbol('pgm.route');

/**
 * The result handed to callers: pg's public result fields plus a
 * non-enumerable `route` (a prototype getter over a symbol-keyed slot, so
 * `JSON.stringify` and `Object.keys` show only the result). A fresh object of one fixed shape is
 * much cheaper than `Object.defineProperty` on pg's own result object, which
 * pushed it off V8's fast path and cost several percent of throughput.
 */
export class RoutedQueryResult<R> implements QueryResult<R> {
  [key: string]: unknown;
  command: string;
  rowCount: number | null;
  oid: number | null;
  rows: R[];
  fields: FieldInfo[];
  declare [ROUTE]: RouteInfo;

  constructor(res: QueryResult<R>, route: RouteInfo) {
    this.command = res.command;
    this.rowCount = res.rowCount;
    this.oid = (res.oid as number | null | undefined) ?? null;
    this.rows = res.rows;
    this.fields = res.fields;
    this[ROUTE] = route;
  }

  /** Where the statement ran. */
  get route(): RouteInfo {
    return this[ROUTE];
  }
}
