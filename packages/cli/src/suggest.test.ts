import { describe, expect, it } from 'vitest';
import { editDistance, nearest } from './suggest.js';

describe('editDistance', () => {
  it('counts edits', () => {
    expect(editDistance('migrate', 'migrate')).toBe(0);
    expect(editDistance('migrat', 'migrate')).toBe(1);
    expect(editDistance('mgirate', 'migrate')).toBe(1); // swap
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});

describe('nearest', () => {
  const commands = ['create', 'migrate', 'status', 'rollback', 'list', 'help'];
  it('suggests the closest command', () => {
    expect(nearest('migrat', commands)).toBe('migrate');
    expect(nearest('stauts', commands)).toBe('status');
    expect(nearest('rolback', commands)).toBe('rollback');
    expect(nearest('lst', commands)).toBe('list');
    expect(nearest('MIGRATE', commands)).toBe('migrate');
  });
  it('suggests nothing for unrelated words', () => {
    expect(nearest('deploy', commands)).toBeUndefined();
    expect(nearest('xyz', commands)).toBeUndefined();
  });
  it('suggests flags', () => {
    expect(nearest('dryrun', ['dry-run', 'target', 'schemas'])).toBe('dry-run');
    expect(nearest('schema', ['dry-run', 'target', 'schemas'])).toBe('schemas');
    expect(nearest('max-paralel', ['parallel', 'max-parallel'])).toBe('max-parallel');
  });
});
