import { describe, expect, it } from 'vitest';
import { analyzeSql, classifySql, createSqlClassifier, DEFAULT_WRITE_FUNCTIONS } from './classify-sql.js';

type Row = [sql: string, kind: 'read' | 'write'];

const reads: Row[] = [
  // plain queries
  ['SELECT 1', 'read'],
  ['select 1', 'read'],
  ['SeLeCt * FrOm users', 'read'],
  ['   \n\t SELECT 1', 'read'],
  ['SELECT 1;', 'read'],
  ['SELECT 1;;', 'read'],
  ['(SELECT 1)', 'read'],
  ['((SELECT 1))', 'read'],
  ['(SELECT 1) UNION (SELECT 2)', 'read'],
  ['SELECT 1 UNION ALL SELECT 2 INTERSECT SELECT 3 EXCEPT SELECT 4', 'read'],
  ['SELECT id, name FROM users WHERE id = $1', 'read'],
  ['SELECT * FROM a JOIN b ON a.id = b.a_id LEFT JOIN c USING (id)', 'read'],
  ['SELECT count(*) FROM orders GROUP BY status HAVING count(*) > 1 ORDER BY 1 LIMIT 10 OFFSET 5', 'read'],
  ['SELECT DISTINCT ON (a) a, b FROM t ORDER BY a, b DESC', 'read'],
  ['SELECT * FROM t FETCH FIRST 10 ROWS ONLY', 'read'],
  ['SELECT * FROM t, LATERAL (SELECT * FROM u WHERE u.t_id = t.id) s', 'read'],
  ['SELECT now(), current_user, version()', 'read'],
  ['SELECT pg_sleep(0)', 'read'],
  ['SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()', 'read'],
  ['SELECT x::text, y::int[] FROM t', 'read'],
  ["SELECT '{1,2}'::int[] @> ARRAY[1]", 'read'],
  ["SELECT data->>'k', data #> '{a,b}' FROM docs", 'read'],
  ['SELECT * FROM generate_series(1, 10) g', 'read'],
  ['SELECT row_number() OVER (PARTITION BY a ORDER BY b) FROM t', 'read'],
  ['SELECT EXISTS (SELECT 1 FROM t WHERE x = 1)', 'read'],
  ['SELECT ARRAY(SELECT id FROM t)', 'read'],
  ['SELECT CASE WHEN a THEN 1 ELSE 2 END FROM t', 'read'],
  ['SELECT extract(year FROM ts), substring(s FROM 2 FOR 3) FROM t', 'read'],
  ['SELECT a IS DISTINCT FROM b FROM t', 'read'],
  ['SELECT * FROM t WHERE a IN (1, 2, 3)', 'read'],
  ['SELECT * FROM t TABLESAMPLE SYSTEM (10)', 'read'],
  ['SELECT currval_like_name FROM t', 'read'],
  // keywords hidden in strings, comments, dollar quotes, identifiers
  ["SELECT 'UPDATE users SET x = 1'", 'read'],
  ["SELECT 'DELETE FROM t; DROP TABLE u;'", 'read'],
  ["SELECT * FROM t WHERE x = 'for update'", 'read'],
  ["SELECT * FROM t WHERE note = 'select ... into x'", 'read'],
  ["SELECT E'it\\'s; DELETE FROM t'", 'read'],
  ["SELECT 'a''; DELETE FROM t; --'", 'read'],
  ['SELECT $$ DELETE FROM t $$', 'read'],
  ['SELECT $fn$ INSERT INTO t VALUES (1); $fn$', 'read'],
  ['SELECT $a$ $b$ nextval($b$ $a$', 'read'],
  ["SELECT U&'\\0044ELETE'", 'read'],
  ['SELECT "delete" FROM t', 'read'],
  ['SELECT "update", "insert", "for" FROM t', 'read'],
  ['SELECT "nextval" FROM t', 'read'],
  ['SELECT t."into" FROM t', 'read'],
  ['SELECT 1 AS into', 'read'],
  ['SELECT t.for FROM t', 'read'],
  ['SELECT for_update, update_count, "FOR UPDATE" FROM t', 'read'],
  ['SELECT share FROM t', 'read'],
  ['SELECT 1 -- FOR UPDATE', 'read'],
  ['SELECT 1 -- ; DELETE FROM t', 'read'],
  ['SELECT 1 /* ; DELETE FROM t */', 'read'],
  ['SELECT 1 /* outer /* nested */ ; DELETE FROM t; */', 'read'],
  ['/* leading comment */ SELECT 1', 'read'],
  ['-- leading comment\nSELECT 1', 'read'],
  ['/* a /* b */ c */ SELECT 1 /* d */', 'read'],
  ['SELECT 1 /* nextval(1) */', 'read'],
  ['SELECT nextval_count FROM stats', 'read'],
  ['SELECT t.nextval FROM t', 'read'],
  ["SELECT * FROM t WHERE updated_at > now() - interval '1 day'", 'read'],
  ['SELECT * FROM "Orders" o WHERE o."Status" = \'updated\'', 'read'],
  ['SELECT * FROM t WHERE "into" = 1', 'read'],
  // VALUES, TABLE, SHOW
  ['VALUES (1), (2)', 'read'],
  ["values (1, 'a')", 'read'],
  ['(VALUES (1)) UNION SELECT 2', 'read'],
  ['TABLE users', 'read'],
  ['table public.users', 'read'],
  ['SHOW search_path', 'read'],
  ['show all', 'read'],
  ['SHOW transaction_isolation', 'read'],
  // read-only CTEs
  ['WITH x AS (SELECT 1) SELECT * FROM x', 'read'],
  ['WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 10) SELECT * FROM r', 'read'],
  ['WITH a AS (SELECT 1), b AS (SELECT 2) SELECT * FROM a, b', 'read'],
  ['WITH a AS MATERIALIZED (SELECT 1) SELECT * FROM a', 'read'],
  ['WITH a AS NOT MATERIALIZED (SELECT 1) SELECT * FROM a', 'read'],
  ['WITH a AS (VALUES (1)) TABLE a', 'read'],
  ['WITH a AS (SELECT 1) VALUES (2)', 'read'],
  ['WITH a AS (SELECT 1) (SELECT * FROM a)', 'read'],
  ['WITH "update" AS (SELECT 1) SELECT * FROM "update"', 'read'],
  ['WITH RECURSIVE t(id, p) AS (SELECT 1, 0) SEARCH DEPTH FIRST BY id, p SET ord SELECT * FROM t ORDER BY ord', 'read'],
  ['WITH RECURSIVE t(id) AS (SELECT 1) CYCLE id SET is_cycle TO true DEFAULT false USING path SELECT * FROM t', 'read'],
  ['with x as (select 1) select * from x', 'read'],
  // EXPLAIN
  ['EXPLAIN SELECT 1', 'read'],
  ['EXPLAIN DELETE FROM t', 'read'],
  ['EXPLAIN INSERT INTO t VALUES (1)', 'read'],
  ['EXPLAIN UPDATE t SET a = 1', 'read'],
  ['EXPLAIN VERBOSE UPDATE t SET a = 1', 'read'],
  ['EXPLAIN (FORMAT JSON) DELETE FROM t', 'read'],
  ['EXPLAIN (ANALYZE false) DELETE FROM t', 'read'],
  ['EXPLAIN (ANALYZE off, COSTS off) INSERT INTO t VALUES (1)', 'read'],
  ['EXPLAIN (ANALYZE 0) DELETE FROM t', 'read'],
  ['EXPLAIN ANALYZE SELECT * FROM t', 'read'],
  ['EXPLAIN ANALYSE SELECT 1', 'read'],
  ['EXPLAIN ANALYZE VERBOSE SELECT 1', 'read'],
  ['EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t', 'read'],
  ['EXPLAIN (ANALYZE true, FORMAT YAML) WITH x AS (SELECT 1) SELECT * FROM x', 'read'],
  ['explain analyze values (1)', 'read'],
  // COPY out to the client
  ['COPY users TO STDOUT', 'read'],
  ['COPY public.users (id, name) TO STDOUT WITH (FORMAT csv)', 'read'],
  ['COPY (SELECT * FROM users) TO STDOUT', 'read'],
  ['copy (select 1) to stdout csv header', 'read'],
  // several statements, all reads
  ['SELECT 1; SELECT 2', 'read'],
  ['SELECT 1; SHOW search_path; VALUES (1)', 'read'],
  ["SELECT ';'; SELECT 2", 'read'],
];

const writes: Row[] = [
  // DML
  ['INSERT INTO t VALUES (1)', 'write'],
  ['insert into t (a) select a from u', 'write'],
  ['INSERT INTO t SELECT * FROM u', 'write'],
  ['INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = excluded.a', 'write'],
  ['UPDATE t SET a = 1', 'write'],
  ['update only t set a = 1 from u where u.id = t.id', 'write'],
  ['DELETE FROM t WHERE id = 1', 'write'],
  ['DELETE FROM t USING u WHERE t.id = u.id RETURNING *', 'write'],
  [
    'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN NOT MATCHED THEN INSERT VALUES (s.id)',
    'write',
  ],
  ['TRUNCATE t', 'write'],
  ['TRUNCATE TABLE a, b RESTART IDENTITY', 'write'],
  ['(INSERT INTO t VALUES (1))', 'write'],
  ['  \n  delete from t', 'write'],
  // DDL
  ['CREATE TABLE t (id int)', 'write'],
  ['CREATE TABLE t AS SELECT 1', 'write'],
  ['CREATE TEMP TABLE t AS SELECT * FROM u', 'write'],
  ['CREATE INDEX CONCURRENTLY i ON t (a)', 'write'],
  ['CREATE VIEW v AS SELECT 1', 'write'],
  ['CREATE MATERIALIZED VIEW mv AS SELECT 1', 'write'],
  ['CREATE SCHEMA s', 'write'],
  ['CREATE EXTENSION pgcrypto', 'write'],
  ['CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', 'write'],
  ['ALTER TABLE t ADD COLUMN c int', 'write'],
  ['DROP TABLE t', 'write'],
  ['DROP TABLE IF EXISTS a, b CASCADE', 'write'],
  ["COMMENT ON TABLE t IS 'x'", 'write'],
  ['GRANT SELECT ON t TO bob', 'write'],
  ['REVOKE ALL ON t FROM bob', 'write'],
  ['REINDEX TABLE t', 'write'],
  ["SECURITY LABEL ON TABLE t IS 'x'", 'write'],
  ['IMPORT FOREIGN SCHEMA s FROM SERVER x INTO y', 'write'],
  // maintenance
  ['VACUUM', 'write'],
  ['VACUUM ANALYZE t', 'write'],
  ['ANALYZE t', 'write'],
  ['ANALYSE', 'write'],
  ['REFRESH MATERIALIZED VIEW mv', 'write'],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY mv', 'write'],
  ['CLUSTER t USING i', 'write'],
  ['CHECKPOINT', 'write'],
  // data-modifying CTEs
  ['WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', 'write'],
  ['WITH x AS (INSERT INTO t VALUES (1) RETURNING id) SELECT id FROM x', 'write'],
  ['WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x', 'write'],
  ['with x as (update only t set a = 1 returning *) select 1', 'write'],
  ['WITH a AS (SELECT 1), b AS (DELETE FROM t RETURNING *) SELECT * FROM a', 'write'],
  ['WITH x AS MATERIALIZED (DELETE FROM t RETURNING *) SELECT 1', 'write'],
  ['WITH x AS (MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE RETURNING *) SELECT 1', 'write'],
  ['WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x', 'write'],
  ['WITH x AS (SELECT 1) UPDATE t SET a = 1', 'write'],
  ['WITH x AS (SELECT 1) DELETE FROM t', 'write'],
  ['WITH x AS (SELECT 1) MERGE INTO t USING x ON true WHEN MATCHED THEN DELETE', 'write'],
  ['WITH x AS (WITH y AS (SELECT 1) DELETE FROM t RETURNING *) SELECT * FROM x', 'write'],
  ['WITH x AS (SELECT 1 FROM t FOR UPDATE) SELECT * FROM x', 'write'],
  // locking clauses
  ['SELECT * FROM t FOR UPDATE', 'write'],
  ['select * from t for update', 'write'],
  ['SELECT * FROM t FOR NO KEY UPDATE', 'write'],
  ['SELECT * FROM t FOR SHARE', 'write'],
  ['SELECT * FROM t FOR KEY SHARE', 'write'],
  ['SELECT * FROM t FOR UPDATE NOWAIT', 'write'],
  ['SELECT * FROM t FOR UPDATE SKIP LOCKED', 'write'],
  ['SELECT * FROM t FOR UPDATE OF t SKIP LOCKED', 'write'],
  ['SELECT * FROM t JOIN u ON true FOR UPDATE OF t FOR SHARE OF u', 'write'],
  ['SELECT * FROM t LIMIT 1 FOR UPDATE', 'write'],
  ['SELECT * FROM (SELECT * FROM t FOR UPDATE) s', 'write'],
  ['SELECT * FROM t\nFOR\n  UPDATE', 'write'],
  ['SELECT * FROM t FOR /* x */ UPDATE', 'write'],
  ['(SELECT * FROM t FOR UPDATE)', 'write'],
  // SELECT INTO
  ['SELECT * INTO new_t FROM t', 'write'],
  ['SELECT a, b INTO TEMP t2 FROM t', 'write'],
  ['select 1 into unlogged t', 'write'],
  ['WITH x AS (SELECT 1) SELECT * INTO t FROM x', 'write'],
  // write functions
  ["SELECT nextval('s')", 'write'],
  ["select NEXTVAL('s')", 'write'],
  ["SELECT pg_catalog.nextval('s')", 'write'],
  ['SELECT "nextval"(\'s\')', 'write'],
  ["SELECT setval('s', 10)", 'write'],
  ["SELECT currval('s')", 'write'],
  ['SELECT lastval()', 'write'],
  ["SELECT id, nextval ('s') FROM t", 'write'],
  ["SELECT * FROM t WHERE id = nextval('s')", 'write'],
  ["VALUES (nextval('s'))", 'write'],
  ['SELECT pg_advisory_lock(1)', 'write'],
  ['SELECT pg_advisory_lock_shared(1)', 'write'],
  ['SELECT pg_try_advisory_lock(1)', 'write'],
  ['SELECT pg_try_advisory_xact_lock(1, 2)', 'write'],
  ['SELECT pg_advisory_xact_lock(1)', 'write'],
  ['SELECT pg_advisory_unlock_all()', 'write'],
  ['SELECT pg_catalog.pg_advisory_lock(42)', 'write'],
  ["SELECT lo_import('/tmp/x')", 'write'],
  ['SELECT lo_create(0)', 'write'],
  ['SELECT lo_unlink(123)', 'write'],
  ["SELECT lo_put(1, 0, '\\x00')", 'write'],
  ["SELECT set_config('search_path', 'x', false)", 'write'],
  ["SELECT pg_catalog.set_config('a.b', 'c', true)", 'write'],
  ["SELECT pg_notify('chan', 'msg')", 'write'],
  ['SELECT txid_current()', 'write'],
  ['SELECT pg_current_xact_id()', 'write'],
  ['SELECT pg_switch_wal()', 'write'],
  ["SELECT pg_create_restore_point('x')", 'write'],
  ["SELECT pg_create_logical_replication_slot('s', 'pgoutput')", 'write'],
  ['SELECT pg_stat_reset()', 'write'],
  ["SELECT dblink_exec('conn', 'DELETE FROM t')", 'write'],
  ["SELECT (SELECT nextval('s'))", 'write'],
  ["WITH x AS (SELECT nextval('s')) SELECT * FROM x", 'write'],
  ["EXPLAIN ANALYZE SELECT nextval('s')", 'write'],
  // session state and transaction control
  ["SET search_path TO 'x'", 'write'],
  ['SET LOCAL statement_timeout = 0', 'write'],
  ['RESET ALL', 'write'],
  ['BEGIN', 'write'],
  ['BEGIN READ ONLY', 'write'],
  ['START TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'write'],
  ['COMMIT', 'write'],
  ['END', 'write'],
  ['ROLLBACK', 'write'],
  ['ABORT', 'write'],
  ['SAVEPOINT a', 'write'],
  ['RELEASE SAVEPOINT a', 'write'],
  ['ROLLBACK TO SAVEPOINT a', 'write'],
  ["PREPARE TRANSACTION 'gid'", 'write'],
  ["COMMIT PREPARED 'gid'", 'write'],
  ['PREPARE q AS SELECT 1', 'write'],
  ['PREPARE q (int) AS SELECT * FROM t WHERE id = $1', 'write'],
  ['EXECUTE q', 'write'],
  ['EXECUTE q(1)', 'write'],
  ['DEALLOCATE q', 'write'],
  ['DEALLOCATE ALL', 'write'],
  ['LISTEN chan', 'write'],
  ['UNLISTEN *', 'write'],
  ["NOTIFY chan, 'x'", 'write'],
  ['DISCARD ALL', 'write'],
  ['DECLARE c CURSOR FOR SELECT 1', 'write'],
  ['FETCH 10 FROM c', 'write'],
  ['MOVE NEXT IN c', 'write'],
  ['CLOSE c', 'write'],
  ["LOAD 'auto_explain'", 'write'],
  ['LOCK TABLE t IN ACCESS EXCLUSIVE MODE', 'write'],
  ['LOCK t', 'write'],
  ['CALL p(1)', 'write'],
  ['DO $$ BEGIN PERFORM 1; END $$', 'write'],
  ["DO LANGUAGE plpgsql 'BEGIN NULL; END'", 'write'],
  // EXPLAIN ANALYZE of a write, EXPLAIN EXECUTE
  ['EXPLAIN ANALYZE DELETE FROM t', 'write'],
  ['EXPLAIN ANALYZE INSERT INTO t VALUES (1)', 'write'],
  ['EXPLAIN (ANALYZE) UPDATE t SET a = 1', 'write'],
  ['EXPLAIN (ANALYZE true) DELETE FROM t', 'write'],
  ['EXPLAIN (ANALYZE on, BUFFERS on) DELETE FROM t', 'write'],
  ['EXPLAIN (FORMAT JSON, ANALYZE) DELETE FROM t', 'write'],
  ['explain analyse verbose update t set a = 1', 'write'],
  ['EXPLAIN ANALYZE CREATE TABLE t2 AS SELECT 1', 'write'],
  ['EXPLAIN ANALYZE SELECT * FROM t FOR UPDATE', 'write'],
  ['EXPLAIN ANALYZE WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x', 'write'],
  ['EXPLAIN EXECUTE q', 'write'],
  ['EXPLAIN', 'write'],
  // COPY
  ['COPY t FROM STDIN', 'write'],
  ["COPY t FROM '/tmp/data.csv' CSV", 'write'],
  ["COPY t (a, b) FROM PROGRAM 'cat x'", 'write'],
  ["COPY t TO '/tmp/out.csv'", 'write'],
  ["COPY (SELECT 1) TO PROGRAM 'cat'", 'write'],
  ["COPY (SELECT nextval('s')) TO STDOUT", 'write'],
  ['COPY (DELETE FROM t RETURNING *) TO STDOUT', 'write'],
  // multi-statement text with any write
  ['SELECT 1; DELETE FROM t', 'write'],
  ['DELETE FROM t; SELECT 1', 'write'],
  ['SELECT 1; SELECT 2; UPDATE t SET a = 1', 'write'],
  ['BEGIN; SELECT 1; COMMIT', 'write'],
  ["SELECT ';' ; DELETE FROM t", 'write'],
  ['SELECT 1; frobnicate', 'write'],
  // empty or unparseable text (safest: primary)
  ['', 'write'],
  ['   ', 'write'],
  [';', 'write'],
  ['-- only a comment', 'write'],
  ['/* only a comment */', 'write'],
  ['/* nested /* comment */ still */', 'write'],
  ["SELECT 'unterminated", 'write'],
  ['SELECT 1 /* unterminated', 'write'],
  ['SELECT $$ unterminated', 'write'],
  ['frobnicate the database', 'write'],
  ['42', 'write'],
  ['"select" 1', 'write'],
  ['WITH x AS', 'write'],
  ['WITH x AS (SELECT 1)', 'write'],
  ['\\d users', 'write'],
];

describe('classifySql', () => {
  it('has a large table', () => {
    expect(reads.length + writes.length).toBeGreaterThanOrEqual(150);
  });

  it.each(reads)('read: %s', (sql, kind) => {
    expect(analyzeSql(sql)).toMatchObject({ kind });
    expect(classifySql(sql)).toBe(kind);
  });

  it.each(writes)('write: %s', (sql, kind) => {
    expect(classifySql(sql)).toBe(kind);
  });
});

describe('analyzeSql', () => {
  it('counts statements and explains the decision', () => {
    expect(analyzeSql('SELECT 1')).toEqual({ kind: 'read', statements: 1, reason: 'SELECT' });
    expect(analyzeSql('SELECT 1; SELECT 2;')).toEqual({
      kind: 'read',
      statements: 2,
      reason: '2 read-only statements',
    });
    expect(analyzeSql('SELECT 1; DELETE FROM t')).toEqual({
      kind: 'write',
      statements: 2,
      reason: 'statement 2: DELETE statement',
    });
    expect(analyzeSql('SELECT * FROM t FOR UPDATE OF t SKIP LOCKED').reason).toBe('locking clause FOR UPDATE');
    expect(analyzeSql("SELECT pg_catalog.nextval('s')").reason).toBe('calls pg_catalog.nextval()');
    expect(analyzeSql('WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x').reason).toBe('data-modifying DELETE');
    expect(analyzeSql('-- nothing')).toEqual({ kind: 'write', statements: 0, reason: 'empty SQL text' });
    expect(analyzeSql('SET search_path = x').reason).toBe('SET uses session state');
  });

  it('returns the same cached object for the same text', () => {
    const a = analyzeSql('SELECT 42 AS cached');
    expect(analyzeSql('SELECT 42 AS cached')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
  });

  it('treats non-string input as a write', () => {
    expect(classifySql(undefined as unknown as string)).toBe('write');
  });
});

describe('write functions', () => {
  it('exports the default list', () => {
    expect(DEFAULT_WRITE_FUNCTIONS).toContain('nextval');
    expect(DEFAULT_WRITE_FUNCTIONS).toContain('pg_advisory_*');
  });

  it('accepts extra functions per call, by name, schema-qualified or prefix', () => {
    expect(classifySql('SELECT audit.log_event(1)')).toBe('read');
    expect(classifySql('SELECT audit.log_event(1)', { writeFunctions: ['log_event'] })).toBe('write');
    expect(classifySql('SELECT log_event(1)', { writeFunctions: ['audit.log_event'] })).toBe('write');
    expect(classifySql('SELECT audit.log_event(1)', { writeFunctions: ['audit.log_event'] })).toBe('write');
    expect(classifySql('SELECT other.log_event(1)', { writeFunctions: ['audit.log_event'] })).toBe('read');
    expect(classifySql('SELECT app_touch_user(1)', { writeFunctions: ['app_touch_*'] })).toBe('write');
    expect(classifySql('SELECT app_read_user(1)', { writeFunctions: ['app_touch_*'] })).toBe('read');
    // the default list still applies
    expect(classifySql("SELECT nextval('s')", { writeFunctions: ['x'] })).toBe('write');
  });

  it('supports independent classifiers', () => {
    const c = createSqlClassifier({ writeFunctions: ['bump_counter'], cacheSize: 10 });
    expect(c.classify('SELECT bump_counter()')).toBe('write');
    expect(c.analyze('SELECT bump_counter()').reason).toBe('calls bump_counter()');
    expect(classifySql('SELECT bump_counter()')).toBe('read');
    for (let i = 0; i < 50; i++) expect(c.classify(`SELECT ${i}`)).toBe('read');
  });
});
