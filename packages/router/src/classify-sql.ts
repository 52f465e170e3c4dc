import {
  analyzeSql as analyzeSqlText,
  createSqlAnalyzer,
  DEFAULT_WRITE_FUNCTIONS,
  type SqlKind,
  type SqlTextAnalysis,
} from '@pg-multiverse/core';

// Read/write classification is a view over core's `analyzeSql` (one SQL
// analysis, one memo per text); this module keeps the router's API.

export { DEFAULT_WRITE_FUNCTIONS, type SqlKind };

export interface SqlAnalysis {
  /** `read` only when every statement is proven read-only; anything else is `write`. */
  kind: SqlKind;
  /** Number of non-empty statements in the text. */
  statements: number;
  /** Why, for logs and `route.reason`: e.g. `SELECT`, `locking clause FOR UPDATE`, `statement 2: INSERT`. */
  reason: string;
}

export interface ClassifyOptions {
  /**
   * Extra functions whose call makes a statement a write (added to
   * `DEFAULT_WRITE_FUNCTIONS`). `name` matches calls with any schema, `schema.name`
   * matches `schema.name(...)` and unqualified `name(...)`, a trailing `*`
   * matches a prefix (`audit_*`).
   */
  writeFunctions?: Iterable<string>;
}

export interface SqlClassifierOptions extends ClassifyOptions {
  /** Entries of the per-text memo. Default 2000 (and at most ~8 MB of SQL text). */
  cacheSize?: number;
}

export interface SqlClassifier {
  classify(sql: string): SqlKind;
  analyze(sql: string): SqlAnalysis;
}

/** The router's summary of a (frozen, memoized) core analysis: built once per analysis object. */
const summaries = new WeakMap<SqlTextAnalysis, SqlAnalysis>();
function summary(a: SqlTextAnalysis): SqlAnalysis {
  let s = summaries.get(a);
  if (s === undefined) {
    s = Object.freeze({ kind: a.kind, statements: a.statements.length, reason: a.reason });
    summaries.set(a, s);
  }
  return s;
}

/** A classifier with its own write-function list and memo. */
export function createSqlClassifier(options: SqlClassifierOptions = {}): SqlClassifier {
  const analyzer = createSqlAnalyzer(options);
  return {
    analyze: (sql) => summary(analyzer.analyze(sql)),
    classify: (sql) => analyzer.analyze(sql).kind,
  };
}

/** `read` if the SQL text is provably read-only (may run on a replica), else `write`. Cached per text. */
export function classifySql(sql: string, options?: ClassifyOptions): SqlKind {
  return analyzeSqlText(sql, options).kind;
}

/** Like `classifySql`, with the statement count and the reason. */
export function analyzeSql(sql: string, options?: ClassifyOptions): SqlAnalysis {
  return summary(analyzeSqlText(sql, options));
}
