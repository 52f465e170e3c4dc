import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeSql, createSqlAnalyzer, type SqlTextAnalysis } from './analyze-sql.js';
import { DEFAULT_WRITE_FUNCTIONS } from './write-functions.js';

type Row = [sql: string, kind: 'read' | 'write', read: string[], written: string[], command: string];

// Single complete statements (drawn from the router's and the cache's corpora):
// each with its kind, tables and command. Also the pieces the properties combine.
const rows: Row[] = [
  ['SELECT 1', 'read', [], [], 'SELECT'],
  ['((SELECT 1))', 'read', [], [], 'SELECT'],
  ['SELECT * FROM users', 'read', ['users'], [], 'SELECT'],
  ['select * from Public.Users', 'read', ['public.users'], [], 'SELECT'],
  [
    'SELECT * FROM "Users" u JOIN s."Order Items" oi ON oi.u = u.id',
    'read',
    ['"Users"', 's."Order Items"'],
    [],
    'SELECT',
  ],
  ['SELECT * FROM a, b AS bb, LATERAL (SELECT * FROM c WHERE c.x = a.x) l', 'read', ['a', 'b', 'c'], [], 'SELECT'],
  ['SELECT * FROM generate_series(1, 3) g', 'read', [], [], 'SELECT'],
  ["SELECT $$ DELETE FROM t $$ /* INSERT INTO x */, 'UPDATE t SET a = 1' FROM t", 'read', ['t'], [], 'SELECT'],
  ['TABLE t', 'read', ['t'], [], 'TABLE'],
  ['VALUES (1), (2)', 'read', [], [], 'VALUES'],
  ['WITH x AS (SELECT * FROM t) SELECT * FROM x JOIN u ON true', 'read', ['t', 'u'], [], 'SELECT'],
  [
    'WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * FROM r',
    'read',
    [],
    [],
    'SELECT',
  ],
  ['SHOW search_path', 'read', [], [], 'SHOW'],
  ['EXPLAIN DELETE FROM t', 'read', ['t'], [], 'EXPLAIN'],
  ['EXPLAIN (ANALYZE false) UPDATE t SET a = 1 FROM u', 'read', ['u', 't'], [], 'EXPLAIN'],
  ['EXPLAIN ANALYZE SELECT * FROM t', 'read', ['t'], [], 'EXPLAIN'],
  ['COPY t TO STDOUT', 'read', ['t'], [], 'COPY'],
  ['COPY (SELECT * FROM t JOIN u ON true) TO STDOUT', 'read', ['t', 'u'], [], 'COPY'],
  ['SELECT * FROM t FOR UPDATE', 'write', ['t'], [], 'SELECT'],
  ["SELECT nextval('s')", 'write', [], [], 'SELECT'],
  ['SELECT * INTO TEMP new_t FROM t', 'write', ['t'], ['new_t'], 'SELECT'],
  ['INSERT INTO t (a) VALUES (1)', 'write', [], ['t'], 'INSERT'],
  ['INSERT INTO s.t SELECT * FROM u RETURNING *', 'write', ['u'], ['s.t'], 'INSERT'],
  ['UPDATE t SET a = s.a FROM s WHERE t.id = s.id', 'write', ['s'], ['t'], 'UPDATE'],
  ['DELETE FROM ONLY s.t USING a WHERE t.id = a.id', 'write', ['a'], ['s.t'], 'DELETE'],
  ['MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE', 'write', ['s'], ['t'], 'MERGE'],
  [
    'WITH d AS (DELETE FROM cart RETURNING *) INSERT INTO archive SELECT * FROM d',
    'write',
    [],
    ['cart', 'archive'],
    'INSERT',
  ],
  ['WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d', 'write', [], ['t'], 'SELECT'],
  ['EXPLAIN ANALYZE DELETE FROM t', 'write', [], ['t'], 'EXPLAIN'],
  ['EXPLAIN (ANALYZE, ANALYZE off) DELETE FROM t', 'write', [], ['t'], 'EXPLAIN'],
  ['TRUNCATE TABLE a, s.b', 'write', [], ['a', 's.b'], 'TRUNCATE'],
  ['COPY t FROM STDIN', 'write', [], ['t'], 'COPY'],
  ['CREATE TABLE t2 AS SELECT * FROM t', 'write', ['t'], ['t2'], 'CREATE'],
  ['DROP TABLE IF EXISTS a, s.b CASCADE', 'write', [], ['a', 's.b'], 'DROP'],
  ['CREATE INDEX i ON t (a)', 'write', [], [], 'CREATE'],
  ['CALL p(1)', 'write', [], [], 'CALL'],
  ['BEGIN', 'write', [], [], 'BEGIN'],
  ['COMMIT', 'write', [], [], 'COMMIT'],
  ["PREPARE TRANSACTION 'x'", 'write', [], [], 'PREPARE'],
  ['SET search_path = app', 'write', [], [], 'SET'],
  ['LISTEN ch', 'write', [], [], 'LISTEN'],
  ['PREPARE q AS SELECT 1', 'write', [], [], 'PREPARE'],
  ['"select" 1', 'write', [], [], ''],
];

const tablesOf = (a: SqlTextAnalysis) => ({ read: [...a.read], written: [...a.written] });

describe('analyzeSql', () => {
  it.each(rows)('%s', (sql, kind, read, written, command) => {
    const a = analyzeSql(sql);
    expect(a.kind).toBe(kind);
    expect(tablesOf(a)).toEqual({ read, written });
    expect(a.statements).toHaveLength(1);
    expect(a.statements[0]).toMatchObject({ kind, read, written, command, start: 0, end: sql.length });
    expect(a.multiStatement).toBe(false);
  });

  it('reports transaction control and session state per statement and for the text', () => {
    const a = analyzeSql('BEGIN; SET LOCAL work_mem = 1; SELECT * FROM t; NOTIFY ch; COMMIT');
    expect(a.statements.map((s) => [s.command, s.transactionControl, s.sessionState])).toEqual([
      ['BEGIN', true, false],
      ['SET', false, true],
      ['SELECT', false, false],
      ['NOTIFY', false, false],
      ['COMMIT', true, false],
    ]);
    expect(a).toMatchObject({ kind: 'write', multiStatement: true, transactionControl: true, sessionState: true });
    expect(a.reason).toBe('statement 1: BEGIN uses session state');
    expect(analyzeSql('SELECT 1')).toMatchObject({ transactionControl: false, sessionState: false });
    for (const s of ['DECLARE c CURSOR FOR SELECT 1', 'FETCH 1 FROM c', 'DISCARD ALL', 'EXECUTE q', 'RESET ALL']) {
      expect(analyzeSql(s).sessionState).toBe(true);
    }
    for (const s of ['START TRANSACTION', 'ROLLBACK', 'SAVEPOINT a', 'RELEASE a', 'END', 'ABORT']) {
      expect(analyzeSql(s).transactionControl).toBe(true);
    }
  });

  it('gives statement offsets in the text', () => {
    const sql = '  SELECT 1 ; /* c */ DELETE FROM t;';
    const a = analyzeSql(sql);
    expect(a.statements.map((s) => sql.slice(s.start, s.end))).toEqual(['SELECT 1', 'DELETE FROM t']);
    expect(a).toMatchObject({ kind: 'write', reason: 'statement 2: DELETE statement', read: [], written: ['t'] });
  });

  it('calls empty, unterminated or non-string text a write', () => {
    expect(analyzeSql('-- only a comment')).toMatchObject({ kind: 'write', reason: 'empty SQL text', statements: [] });
    expect(analyzeSql('SELECT * FROM t /* open')).toMatchObject({
      kind: 'write',
      reason: 'unterminated comment',
      read: ['t'],
    });
    expect(analyzeSql("SELECT 'open").kind).toBe('write');
    expect(analyzeSql(undefined as unknown as string)).toMatchObject({ kind: 'write', reason: 'not a string' });
  });

  it('memoizes per text: the same frozen object', () => {
    const a = analyzeSql('SELECT * FROM memo_me');
    expect(analyzeSql('SELECT * FROM memo_me')).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(Object.isFrozen(a.read)).toBe(true);
    expect(Object.isFrozen(a.statements[0])).toBe(true);
  });

  it('takes writeFunctions as an option with its own memo key', () => {
    const sql = 'SELECT audit.touch(1) FROM t';
    expect(analyzeSql(sql).kind).toBe('read');
    expect(analyzeSql(sql, { writeFunctions: ['audit.touch'] })).toMatchObject({
      kind: 'write',
      reason: 'calls audit.touch()',
      read: ['t'],
    });
    expect(analyzeSql(sql, { writeFunctions: ['other_*'] }).kind).toBe('read');
    expect(analyzeSql(sql, { writeFunctions: [] })).toBe(analyzeSql(sql));
    // the same list in another order is the same memo key
    expect(analyzeSql(sql, { writeFunctions: ['b', 'audit.touch'] })).toBe(
      analyzeSql(sql, { writeFunctions: ['audit.touch', 'b'] }),
    );
    // and the default memo was not polluted
    expect(analyzeSql(sql).kind).toBe('read');
    expect(DEFAULT_WRITE_FUNCTIONS).toContain('nextval');
  });

  it('createSqlAnalyzer: own list and bounded memo', () => {
    const an = createSqlAnalyzer({ writeFunctions: ['bump'], cacheSize: 2 });
    expect(an.analyze('SELECT bump()').kind).toBe('write');
    const first = an.analyze('SELECT 1');
    expect(an.analyze('SELECT 1')).toBe(first);
    an.analyze('SELECT 2');
    an.analyze('SELECT 3');
    an.analyze('SELECT 4');
    const again = an.analyze('SELECT 1');
    expect(again).toEqual(first);
  });
});

describe('analyzeSql properties', () => {
  const row = fc.constantFrom(...rows);
  const sep = fc.constantFrom(';', '; ', ';\n', ' ; -- c\n', '; /* ; */ ');

  it('a multi-statement text is the ordered union of its statements', () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 5 }), sep, (parts, s) => {
        const a = analyzeSql(parts.map((p) => p[0]).join(s));
        const union = (pick: (r: Row) => string[]) => [...new Set(parts.flatMap(pick))];
        const bad = parts.findIndex((p) => p[1] === 'write');
        expect(a.kind).toBe(bad >= 0 ? 'write' : 'read');
        expect(tablesOf(a)).toEqual({ read: union((r) => r[2]), written: union((r) => r[3]) });
        expect(a.statements.map((x) => x.command)).toEqual(parts.map((p) => p[4]));
        expect(a.multiStatement).toBe(parts.length > 1);
        if (bad >= 0 && parts.length > 1) expect(a.reason.startsWith(`statement ${bad + 1}: `)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('on valid statements, written tables imply a write', () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 3 }), (parts) => {
        const a = analyzeSql(parts.map((p) => p[0]).join('; '));
        if (a.written.length > 0) expect(a.kind).toBe('write');
        for (const st of a.statements) if (st.written.length > 0) expect(st.kind).toBe('write');
      }),
      { numRuns: 200 },
    );
  });

  it('the memo changes nothing, even on arbitrary (mostly invalid) text', () => {
    const fresh = createSqlAnalyzer({ cacheSize: 1 });
    // spliced fragments of the rows. Known conservative seam on such text: a bare column
    // label `delete` before FROM (`SELECT 1 delete FROM t`) is a read whose `t` is listed as written.
    const text = fc
      .tuple(row, row, fc.nat(), fc.nat())
      .map(([a, b, i, j]) => `${a[0].slice(0, i % 40)} ${b[0].slice(j % 40)}`);
    fc.assert(
      fc.property(text, (sql) => {
        expect(analyzeSql(sql)).toEqual(fresh.analyze(sql));
      }),
      { numRuns: 500 },
    );
  });
});
