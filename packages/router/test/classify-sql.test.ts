import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { classifySql } from '../src/classify-sql.js';

// What classifySql calls a read must really run on a hot standby, and the
// writes it catches must really be refused there.

const ctx = inject('pgmTopology');
const schema = uniqueName('classify');

const READS = [
  'SELECT * FROM t',
  '(SELECT id FROM t) UNION (SELECT id FROM u)',
  'SELECT "delete", for_update FROM t WHERE note = \'for update\'',
  'SELECT t."into", t.for FROM t',
  'SELECT 1 AS into',
  "SELECT $$ DELETE FROM t $$, 'UPDATE t SET a = 1', U&'\\0044ELETE'",
  'SELECT 1 /* outer /* nested */ ; DELETE FROM t; */',
  'WITH x AS (SELECT * FROM t) SELECT * FROM x',
  'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r',
  'VALUES (1), (2)',
  'TABLE t',
  'SHOW search_path',
  'EXPLAIN SELECT * FROM t',
  'EXPLAIN INSERT INTO t VALUES (1)',
  'EXPLAIN DELETE FROM t',
  'EXPLAIN UPDATE t SET a = 1',
  'EXPLAIN (ANALYZE false) DELETE FROM t',
  'EXPLAIN ANALYZE SELECT * FROM t JOIN u USING (id)',
  'SELECT extract(year FROM now()), substring(note FROM 1 FOR 2) FROM t',
  'SELECT count(*) FROM t, LATERAL (SELECT * FROM u WHERE u.id = t.id) s',
  'SELECT 1; SELECT 2',
];

const WRITES_REFUSED_ON_STANDBY = [
  'INSERT INTO t VALUES (9)',
  'UPDATE t SET a = 1',
  'DELETE FROM t',
  'WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x',
  'SELECT * FROM t FOR UPDATE',
  'SELECT * FROM t FOR UPDATE OF t SKIP LOCKED',
  'SELECT * FROM t FOR KEY SHARE',
  'SELECT * INTO t_copy FROM t',
  "SELECT nextval('s')",
  "SELECT pg_catalog.setval('s', 5)",
  'SELECT txid_current()',
  'EXPLAIN ANALYZE DELETE FROM t',
  'TRUNCATE t',
  'CREATE TABLE t2 (id int)',
  'SELECT 1; DELETE FROM t',
];

let primary: pg.Client;
let replica: pg.Client;

beforeAll(async () => {
  primary = new pg.Client(ctx.config.users_cluster!.primary);
  replica = new pg.Client(ctx.config.users_cluster!.replicas[0]!);
  await Promise.all([primary.connect(), replica.connect()]);
  await primary.query(`CREATE SCHEMA "${schema}";
    CREATE TABLE "${schema}".t (id int PRIMARY KEY, a int, "delete" int, for_update bool, note text, "into" int, "for" int);
    CREATE TABLE "${schema}".u (id int PRIMARY KEY);
    CREATE SEQUENCE "${schema}".s;
    INSERT INTO "${schema}".t VALUES (1, 1, 1, true, 'x', 1, 1);
    INSERT INTO "${schema}".u VALUES (1)`);
  // wait until the replica has replayed the schema
  for (let i = 0; i < 200; i++) {
    const { rows } = await replica.query('SELECT to_regclass($1) IS NOT NULL AS ok', [`"${schema}".u`]);
    if (rows[0].ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await replica.query(`SET search_path TO "${schema}"`);
});

afterAll(async () => {
  await primary?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await Promise.all([primary?.end(), replica?.end()]);
});

describe('classifySql against a hot standby', () => {
  it.each(READS)('read runs on the standby: %s', async (sql) => {
    expect(classifySql(sql)).toBe('read');
    await expect(replica.query(sql)).resolves.toBeDefined();
  });

  it.each(WRITES_REFUSED_ON_STANDBY)('write is refused by the standby: %s', async (sql) => {
    expect(classifySql(sql)).toBe('write');
    // 25006 read_only_sql_transaction (or a hot-standby refusal of the same class)
    await expect(replica.query(sql)).rejects.toMatchObject({ code: expect.stringMatching(/^25006$|^0A000$|^55000$/) });
  });
});
