import { tokenizeSql } from '@pg-multiverse/core';
import { uniqueName, waitForReplicas } from '@pg-multiverse/testkit';
import fc from 'fast-check';
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
  await waitForReplicas(ctx.config.users_cluster!);
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

// The lexer under the classifier decodes literals and identifiers exactly like the server.
const PLAIN = fc.constantFrom(...'abcXYZ 09;-/*$"\t\néü日😀'.split(/(?:)/u));
const standardLit = fc.array(fc.oneof(PLAIN, fc.constantFrom("'", '\\')), { maxLength: 20 }).map((cs) => {
  const s = cs.join('');
  return { src: `'${s.replace(/'/g, "''")}'`, value: s };
});
const escapePiece = fc.oneof(
  PLAIN,
  fc.constantFrom("''", "\\'", '\\\\', '\\n', '\\t', '\\b', '\\f', '\\r', '\\q', '\\ü', '\\xC3\\xA9', '\\303\\251'),
  fc.integer({ min: 1, max: 0x7f }).map((b) => `\\x${b.toString(16)}`),
  fc.integer({ min: 1, max: 0o177 }).map((b) => `\\${b.toString(8)}`),
  fc.integer({ min: 1, max: 0xd7ff }).map((c) => `\\u${c.toString(16).padStart(4, '0')}`),
  fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => `\\U${c.toString(16).padStart(8, '0')}`),
);
const escapeLit = fc
  .array(escapePiece, { maxLength: 12 })
  .map((ps) => ({ src: `E'${ps.join('')}'`, value: undefined }));
const dollarLit = fc
  .tuple(
    fc.constantFrom('', 'q', 'tag_1'),
    fc.array(fc.oneof(PLAIN, fc.constantFrom('$', "'", '\\')), { maxLength: 20 }),
  )
  .filter(([tag, cs]) => !`${cs.join('')}$`.includes(`$${tag}$`))
  .map(([tag, cs]) => ({ src: `$${tag}$${cs.join('')}$${tag}$`, value: cs.join('') }));
const unicodeLit = fc
  .array(
    fc.oneof(
      fc.constantFrom('a', 'Z', ' ', "''"),
      fc.integer({ min: 0x20, max: 0xd7ff }).map((c) => `!${c.toString(16).padStart(4, '0')}`),
      fc.integer({ min: 0x10000, max: 0x10ffff }).map((c) => `!+${c.toString(16).padStart(6, '0')}`),
      fc.constant('!!'),
    ),
    { maxLength: 10 },
  )
  .map((ps) => ({ src: `U&'${ps.join('')}' UESCAPE '!'`, value: undefined }));

describe('the lexer agrees with the server', () => {
  it('on string literals of every kind', async () => {
    const samples = fc.sample(fc.oneof(standardLit, escapeLit, dollarLit, unicodeLit), { numRuns: 400, seed: 42 });
    samples.push(
      { src: "'foo'\n  'bar'", value: 'foobar' },
      { src: "E'a\\n'\n'\\x41'", value: undefined },
      { src: "U&'d\\0061t\\+000061'", value: 'data' },
    );
    const { rows } = await replica.query<{ v: string[] }>(
      `SELECT ARRAY[${samples.map((x) => x.src).join(',\n')}]::text[] AS v`,
    );
    const server = rows[0]!.v;
    const ours = samples.map((x) => {
      const toks = tokenizeSql(x.src);
      expect(toks).toHaveLength(1);
      return toks[0]!.value;
    });
    const diffs = samples
      .map((x, i) => ({ src: x.src, server: server[i], ours: ours[i] }))
      .filter((d) => d.server !== d.ours);
    expect(diffs.slice(0, 5)).toEqual([]);
    // and the literals the generator knew the value of decode to it
    samples.forEach((x, i) => {
      if (x.value !== undefined) expect(ours[i]).toBe(x.value);
    });
  });

  it('on quoted, unicode and over-long identifiers', async () => {
    const idents = [
      '"Mixed Case"',
      '"with ""quotes"""',
      'Unquoted_UPPER',
      'U&"d\\0061t\\+000061"',
      'U&"x!00e9" UESCAPE \'!\'',
      `"${'é'.repeat(40)}"`,
      `${'long_'.repeat(20)}`,
      '"select"',
    ];
    const res = await replica.query(`SELECT ${idents.map((id, i) => `${i} AS ${id}`).join(', ')}`);
    const ours = idents.map((id) => tokenizeSql(id)[0]!.value);
    expect(res.fields.map((f) => f.name)).toEqual(ours);
  });
});
