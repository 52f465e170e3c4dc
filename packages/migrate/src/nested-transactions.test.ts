import { describe, expect, it } from 'vitest';
import { createNestingRewriter } from './nested-transactions.js';

describe('createNestingRewriter', () => {
  it('turns BEGIN/COMMIT/ROLLBACK into savepoints, nesting', () => {
    const r = createNestingRewriter();
    expect(r('BEGIN')).toBe('SAVEPOINT pgm_nested_1');
    expect(r('start transaction isolation level serializable;')).toBe('SAVEPOINT pgm_nested_2');
    expect(r('ROLLBACK')).toBe('ROLLBACK TO SAVEPOINT pgm_nested_2; RELEASE SAVEPOINT pgm_nested_2');
    expect(r('commit work;')).toBe('RELEASE SAVEPOINT pgm_nested_1');
    expect(r('SELECT 1')).toBe('SELECT 1');
    expect(r('ROLLBACK TO SAVEPOINT mine')).toBe('ROLLBACK TO SAVEPOINT mine');
  });
  it('refuses a COMMIT that would end the step transaction', () => {
    expect(() => createNestingRewriter()('COMMIT')).toThrow(/transaction: false/);
  });
});
