import { analyzeSql as analyzeSqlText, createSqlAnalyzer } from '@pg-multiverse/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeSql, classifySql, createSqlClassifier } from './classify-sql.js';

// The classifier is a view over core's analyzeSql: same kind, same reason, same statement count,
// with and without writeFunctions, for any text built from the corpus pieces.
const pieces = [
  'SELECT * FROM t',
  '(SELECT 1) UNION (SELECT 2)',
  'WITH x AS (SELECT * FROM t) SELECT * FROM x',
  'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
  'EXPLAIN DELETE FROM t',
  'EXPLAIN ANALYZE DELETE FROM t',
  'EXPLAIN (ANALYZE off) UPDATE t SET a = 1',
  'COPY t TO STDOUT',
  'COPY t FROM STDIN',
  'SELECT * FROM t FOR UPDATE',
  "SELECT nextval('s')",
  'SELECT audit.touch(1)',
  'SELECT app_bump(2) FROM u',
  'INSERT INTO t VALUES (1)',
  'SET search_path = x',
  'BEGIN',
  'SHOW work_mem',
  "SELECT 'it''s', $$;$$, \"delete\" FROM t /* ; DELETE FROM t */",
  '-- only a comment',
  "SELECT 'unterminated",
  '/* open',
];
const text = fc
  .tuple(fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 4 }), fc.constantFrom(';', '; ', '\n;\n', ' '))
  .map(([ps, sep]) => ps.join(sep));
const writeFunctions = fc.constantFrom(undefined, ['audit.touch'], ['app_*', 'x'], []);

describe('classifySql is a view over core analyzeSql', () => {
  it('same kind, reason and statement count', () => {
    fc.assert(
      fc.property(text, writeFunctions, (sql, wf) => {
        const options = wf ? { writeFunctions: wf } : undefined;
        const core = analyzeSqlText(sql, options);
        expect(classifySql(sql, options)).toBe(core.kind);
        expect(analyzeSql(sql, options)).toEqual({
          kind: core.kind,
          statements: core.statements.length,
          reason: core.reason,
        });
        const own = createSqlClassifier({ writeFunctions: wf ?? [], cacheSize: 3 });
        const fresh = createSqlAnalyzer({ writeFunctions: wf ?? [], cacheSize: 3 }).analyze(sql);
        expect(own.classify(sql)).toBe(fresh.kind);
        expect(own.analyze(sql).reason).toBe(fresh.reason);
      }),
      { numRuns: 300 },
    );
  });
});
