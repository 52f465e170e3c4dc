import { describe, expect, it } from 'vitest';
import { BoundedMemo } from './memo.js';

describe('BoundedMemo', () => {
  it('keeps at most maxEntries, giving recently hit entries a second chance', () => {
    const m = new BoundedMemo<number>(3, 1000);
    m.set('a', 1, 1);
    m.set('b', 2, 1);
    m.set('c', 3, 1);
    expect(m.get('a')).toBe(1); // a is hit: survives the next eviction
    m.set('d', 4, 1);
    expect(m.size).toBe(3);
    expect(m.get('b')).toBeUndefined();
    expect(m.get('a')).toBe(1);
    expect(m.get('d')).toBe(4);
  });

  it('bounds the total size and skips entries larger than the bound', () => {
    const m = new BoundedMemo<string>(100, 10);
    m.set('x', 'x', 11);
    expect(m.get('x')).toBeUndefined();
    m.set('a', 'a', 6);
    m.set('b', 'b', 6);
    expect(m.get('a')).toBeUndefined();
    expect(m.get('b')).toBe('b');
    m.set('b', 'b2', 4); // replacing frees the old size
    m.set('c', 'c', 6);
    expect([m.get('b'), m.get('c')]).toEqual(['b2', 'c']);
  });
});
