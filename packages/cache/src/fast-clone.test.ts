import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fastClone } from './fast-clone.js';

describe('fastClone', () => {
  it('deep-copies rows: Dates, Buffers, nested JSON, Map, Set, null-prototype objects', () => {
    const bare = Object.assign(Object.create(null), { a: 1 });
    const v = {
      rows: [
        { at: new Date(5), b: Buffer.from([1, 2]), doc: { list: [1, { x: 'y' }] }, n: null, u: undefined, big: 3n },
      ],
      m: new Map([['k', { z: 1 }]]),
      s: new Set([[1]]),
      bare,
      u8: new Uint8Array([7]),
    };
    const c = fastClone(v);
    expect(c).toEqual(v);
    c.rows[0]!.at.setTime(99);
    c.rows[0]!.b[0] = 42;
    (c.rows[0]!.doc.list[1] as { x: string }).x = 'changed';
    c.m.get('k')!.z = 2;
    c.u8[0] = 0;
    expect(v.rows[0]!.at.getTime()).toBe(5);
    expect(v.rows[0]!.b[0]).toBe(1);
    expect((v.rows[0]!.doc.list[1] as { x: string }).x).toBe('y');
    expect(v.m.get('k')!.z).toBe(1);
    expect(v.u8[0]).toBe(7);
    expect(Buffer.isBuffer(c.rows[0]!.b)).toBe(true);
    expect(Object.getPrototypeOf(c.bare)).toBeNull();
    expect('u' in c.rows[0]!).toBe(true);
  });

  it('keeps an own __proto__ key as a key', () => {
    const v = JSON.parse('{"__proto__":[1],"a":2}');
    const c = fastClone(v);
    expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
    expect(Object.keys(c)).toEqual(['__proto__', 'a']);
    expect(c).toEqual(structuredClone(v));
  });

  it('equals structuredClone on JSON-like values (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(fastClone(v)).toEqual(structuredClone(v));
      }),
      { numRuns: 300 },
    );
  });
});
