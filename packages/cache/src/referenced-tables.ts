import { analyzeSql } from '@pg-multiverse/core';

/**
 * Tables a SQL text reads and writes, as written in the SQL: `table` or
 * `schema.table` (a three-part `db.schema.table` keeps its last two parts).
 * Each part is printed like PostgreSQL's quote_ident: bare when it is a plain
 * lower-case identifier (`users`, `public.users`; unquoted names are folded to
 * lower case), double-quoted otherwise (`"Orders"`, `"a.b".t`, `"x""y"`).
 * Unqualified names belong to the query's schema / search_path; the caller
 * qualifies them. Names are deduplicated, in order of appearance; a table that
 * is both read and written appears in both lists. CTE names are not tables.
 */
export interface ReferencedTables {
  read: string[];
  written: string[];
}

/**
 * The `read` / `written` tables of core's `analyzeSql` (one SQL analysis,
 * memoized per text, shared with the router's classification), as fresh
 * arrays the caller may keep or change. Covers FROM / JOIN (comma joins,
 * LATERAL, ONLY, parenthesised joins, subqueries at any depth), TABLE t,
 * INSERT INTO, UPDATE (and its FROM), DELETE FROM (and USING), MERGE INTO ...
 * USING, TRUNCATE, COPY, SELECT INTO, CREATE TABLE [AS], CREATE/REFRESH
 * MATERIALIZED VIEW, ALTER/DROP TABLE, VIEW and MATERIALIZED VIEW, statement
 * by statement. EXPLAIN without ANALYZE writes nothing: its tables are
 * reported as read. Function calls (`FROM f(x)`) are not tables. Tables
 * touched only inside functions, views or triggers cannot be seen.
 */
export function referencedTables(sql: string): ReferencedTables {
  const a = analyzeSql(sql);
  return { read: [...a.read], written: [...a.written] };
}
