import { analyzeSql } from '@pg-multiverse/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { referencedTables } from './referenced-tables.js';

// referencedTables is a view over core's analyzeSql: the same tables, as fresh arrays.
const pieces = [
  'SELECT * FROM a JOIN b ON true, c',
  'WITH x AS (SELECT * FROM t) SELECT * FROM x',
  'WITH d AS (DELETE FROM cart RETURNING *) INSERT INTO archive SELECT * FROM d',
  'UPDATE t SET a = s.a FROM s',
  'DELETE FROM ONLY s.t USING a',
  'EXPLAIN DELETE FROM t',
  'EXPLAIN ANALYZE DELETE FROM t',
  'COPY t TO STDOUT',
  'TRUNCATE a, "B"',
  'SELECT * INTO new_t FROM t',
  'SELECT \'FROM x\', $$ DELETE FROM y $$ FROM "Z" -- JOIN w',
  'CALL p(1)',
];
const text = fc
  .tuple(fc.array(fc.constantFrom(...pieces), { minLength: 1, maxLength: 4 }), fc.constantFrom(';', '; ', ' '))
  .map(([ps, sep]) => ps.join(sep));

describe('referencedTables is a view over core analyzeSql', () => {
  it('same tables, in fresh arrays the caller may change', () => {
    fc.assert(
      fc.property(text, (sql) => {
        const a = analyzeSql(sql);
        const r = referencedTables(sql);
        expect(r).toEqual({ read: [...a.read], written: [...a.written] });
        r.read.push('mine');
        r.written.length = 0;
        expect(referencedTables(sql)).toEqual({ read: [...a.read], written: [...a.written] });
      }),
      { numRuns: 200 },
    );
  });
});
