import { describe, expect, it } from 'vitest';
import { beginSql, checkOptions } from './begin-sql.js';

describe('beginSql', () => {
  it('builds BEGIN with options', () => {
    expect(beginSql({})).toBe('BEGIN');
    expect(beginSql({ isolationLevel: 'serializable', readOnly: true, deferrable: true })).toBe(
      'BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY DEFERRABLE',
    );
    expect(beginSql({ isolationLevel: 'REPEATABLE READ' })).toBe('BEGIN ISOLATION LEVEL REPEATABLE READ');
  });

  it('rejects unknown isolation levels and bad timeouts', () => {
    expect(() => beginSql({ isolationLevel: 'chaos; DROP TABLE x' as never })).toThrow(/isolationLevel/);
    expect(() => checkOptions({ timeoutMs: -1 })).toThrow(/timeoutMs/);
  });
});
