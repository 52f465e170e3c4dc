import { describe, expect, it } from 'vitest';
import { referencedTables } from './referenced-tables.js';

type Row = [sql: string, read: string[], written: string[]];

const rows: Row[] = [
  // FROM / JOIN
  ['SELECT * FROM users', ['users'], []],
  ['select * from Public.Users', ['public.users'], []],
  [
    'SELECT * FROM "Users" u JOIN "My Schema"."Order Items" oi ON oi.u = u.id',
    ['"Users"', '"My Schema"."Order Items"'],
    [],
  ],
  ['SELECT * FROM "a.b".c, "x""y"', ['"a.b".c', '"x""y"'], []],
  ['SELECT * FROM db.s.t', ['s.t'], []],
  ['SELECT * FROM a, b AS bb, c cc WHERE a.id = bb.id', ['a', 'b', 'c'], []],
  ['SELECT * FROM a JOIN b ON a.id = b.id, c', ['a', 'b', 'c'], []],
  ['SELECT * FROM a LEFT OUTER JOIN b USING (id) NATURAL JOIN c CROSS JOIN d', ['a', 'b', 'c', 'd'], []],
  ['SELECT * FROM a x(i, j), b', ['a', 'b'], []],
  ['SELECT * FROM ONLY a, b *', ['a', 'b'], []],
  ['SELECT * FROM (a JOIN b ON true) JOIN c ON true', ['a', 'b', 'c'], []],
  ['SELECT * FROM ((a JOIN b ON true))', ['a', 'b'], []],
  ['SELECT * FROM a, LATERAL (SELECT * FROM b WHERE b.a = a.id) s, c', ['a', 'b', 'c'], []],
  ['SELECT * FROM a CROSS JOIN LATERAL jsonb_array_elements(a.j) e JOIN c ON true', ['a', 'c'], []],
  ['SELECT * FROM generate_series(1, 3) g, pg_catalog.unnest($1::int[]) u, t', ['t'], []],
  ['SELECT * FROM ROWS FROM (f(1), g(2)) AS x, t', ['t'], []],
  ['SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (1), u', ['t', 'u'], []],
  ['SELECT * FROM (SELECT * FROM inner_t) s', ['inner_t'], []],
  ['SELECT (SELECT max(x) FROM m), EXISTS (SELECT 1 FROM e) FROM t', ['m', 'e', 't'], []],
  ['SELECT * FROM t WHERE id IN (SELECT id FROM u) AND x = ANY(ARRAY(SELECT y FROM v))', ['t', 'u', 'v'], []],
  ['SELECT extract(year FROM ts), substring(s FROM 1 FOR 2), trim(both FROM s) FROM t', ['t'], []],
  ['SELECT a IS DISTINCT FROM b, a IS NOT DISTINCT FROM c FROM t', ['t'], []],
  ['SELECT 1 FROM a UNION SELECT 2 FROM b EXCEPT SELECT 3 FROM c', ['a', 'b', 'c'], []],
  ['SELECT * FROM a ORDER BY x, y LIMIT 1', ['a'], []],
  ['SELECT x, y FROM a GROUP BY x, y', ['a'], []],
  ['SELECT * FROM a FOR UPDATE OF a, b', ['a'], []],
  ['SELECT 1', [], []],
  ["SELECT * FROM t WHERE note = 'FROM secret JOIN other'", ['t'], []],
  ['SELECT $$ FROM x $$ FROM t -- FROM y\n/* JOIN z */', ['t'], []],
  ['TABLE t', ['t'], []],
  ['TABLE s.t UNION TABLE u', ['s.t', 'u'], []],
  ['VALUES (1), (2)', [], []],
  // CTEs
  ['WITH x AS (SELECT * FROM t) SELECT * FROM x', ['t'], []],
  ['WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r JOIN t ON true', ['t'], []],
  ['WITH a AS MATERIALIZED (SELECT 1), b AS (SELECT * FROM a, u) SELECT * FROM a, b', ['u'], []],
  ['WITH d AS (DELETE FROM t WHERE x RETURNING *) INSERT INTO archive SELECT * FROM d', [], ['t', 'archive']],
  ['WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM u', [], ['t']],
  ['WITH x AS (SELECT 1) SELECT * FROM public.x', ['public.x'], []],
  // INSERT
  ['INSERT INTO t VALUES (1)', [], ['t']],
  ['insert into S.T (a, b) select a, b from u', ['u'], ['s.t']],
  ['INSERT INTO t AS tt VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a', [], ['t']],
  ['INSERT INTO "Log" SELECT * FROM a JOIN b ON true ON CONFLICT DO NOTHING', ['a', 'b'], ['"Log"']],
  // UPDATE
  ['UPDATE t SET a = 1', [], ['t']],
  ['UPDATE ONLY t AS x SET a = u.a, b = 2 FROM u, v WHERE u.id = x.id', ['u', 'v'], ['t']],
  ['UPDATE t SET a = (SELECT max(b) FROM u)', ['u'], ['t']],
  // DELETE
  ['DELETE FROM t WHERE id = 1', [], ['t']],
  ['DELETE FROM ONLY s.t USING a, b WHERE t.id = a.id', ['a', 'b'], ['s.t']],
  ['DELETE FROM t WHERE id IN (SELECT id FROM u)', ['u'], ['t']],
  // MERGE
  [
    'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT (id) VALUES (s.id)',
    ['s'],
    ['t'],
  ],
  ['MERGE INTO t USING (SELECT * FROM src) s ON true WHEN MATCHED THEN DELETE', ['src'], ['t']],
  // TRUNCATE
  ['TRUNCATE t', [], ['t']],
  ['TRUNCATE TABLE a, s.b, ONLY c RESTART IDENTITY CASCADE', [], ['a', 's.b', 'c']],
  // COPY
  ['COPY t FROM STDIN', [], ['t']],
  ["COPY s.t (a, b) FROM '/tmp/x.csv' CSV", [], ['s.t']],
  ['COPY t TO STDOUT', ['t'], []],
  ['COPY (SELECT * FROM t JOIN u ON true) TO STDOUT', ['t', 'u'], []],
  // DDL
  ['CREATE TABLE t (id int)', [], ['t']],
  ['CREATE TEMP TABLE IF NOT EXISTS t2 AS SELECT * FROM t', ['t'], ['t2']],
  ['CREATE UNLOGGED TABLE s.t (LIKE u)', [], ['s.t']],
  ['CREATE MATERIALIZED VIEW mv AS SELECT * FROM t', ['t'], ['mv']],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY mv', [], ['mv']],
  ['ALTER TABLE IF EXISTS ONLY t ADD COLUMN c int', [], ['t']],
  ['ALTER TABLE t RENAME TO u', [], ['t']],
  ['DROP TABLE IF EXISTS a, s.b CASCADE', [], ['a', 's.b']],
  ['DROP MATERIALIZED VIEW mv', [], ['mv']],
  ['CREATE INDEX i ON t (a)', [], []],
  ['SELECT * INTO TEMP new_t FROM t', ['t'], ['new_t']],
  // EXPLAIN
  ['EXPLAIN DELETE FROM t', ['t'], []],
  ['EXPLAIN ANALYZE DELETE FROM t', [], ['t']],
  ['EXPLAIN (ANALYZE, FORMAT JSON) UPDATE t SET a = 1 FROM u', ['u'], ['t']],
  // several statements, no tables, comments only
  ['SELECT * FROM a; DELETE FROM b; INSERT INTO a SELECT * FROM c', ['a', 'c'], ['b', 'a']],
  ["SELECT nextval('s')", [], []],
  ['CALL p(1)', [], []],
  ['-- FROM t', [], []],
  ['', [], []],
];

describe('referencedTables', () => {
  it.each(rows)('%s', (sql, read, written) => {
    expect(referencedTables(sql)).toEqual({ read, written });
  });

  it('deduplicates names in order of appearance', () => {
    expect(referencedTables('SELECT * FROM b, a JOIN b ON true, A').read).toEqual(['b', 'a']);
  });
});
