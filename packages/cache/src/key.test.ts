import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { keyFor } from './key.js';

const base = { clusterId: 'c1', schema: 'users', searchPath: 'users', sql: 'SELECT $1' };
const k = (params: unknown[], extra: object = {}) => keyFor({ ...base, ...extra, params });

describe('keyFor', () => {
  it('is stable and includes cluster, schema, search_path and SQL', () => {
    expect(k([1])).toBe(k([1]));
    expect(k([1])).toMatch(/^pgm:q:[A-Za-z0-9_-]{43}$/);
    expect(k([1], { clusterId: 'c2' })).not.toBe(k([1]));
    expect(k([1], { schema: 'auth' })).not.toBe(k([1]));
    expect(k([1], { searchPath: 'auth' })).not.toBe(k([1]));
    expect(k([1], { sql: 'SELECT $1 ' })).not.toBe(k([1]));
  });

  it('keeps parameters of different types apart', () => {
    const variants: unknown[][] = [
      [null],
      [undefined],
      [1],
      ['1'],
      [1n],
      [true],
      ['true'],
      [new Date(0)],
      [0],
      [-0],
      [Buffer.from('a')],
      ['a'],
      [[1, 2]],
      [[[1], 2]],
      ['{1,2}'],
      [{ a: 1 }],
      ['{"a":1}'],
      [{ a: 1, b: 2 }],
      [{ b: 2, a: 1 }],
      [[]],
      [],
      [null, null],
      ['a', 'b'],
      ['a,b'],
    ];
    const keys = variants.map((p) => k(p));
    expect(new Set(keys).size).toBe(variants.length);
  });

  it('keys Dates by instant and Buffers by bytes', () => {
    expect(k([new Date('2024-01-01T00:00:00Z')])).toBe(k([new Date(1704067200000)]));
    expect(k([new Date(1)])).not.toBe(k([new Date(2)]));
    expect(k([Buffer.from([1, 2])])).toBe(k([new Uint8Array([1, 2])]));
    expect(k([Buffer.from([1, 2])])).not.toBe(k([Buffer.from([1, 3])]));
  });

  it('uses toPostgres like pg does', () => {
    const a = { toPostgres: () => 'x' };
    expect(k([a])).toBe(k([{ toPostgres: () => 'x' }]));
    expect(k([a])).not.toBe(k([{ toPostgres: () => 'y' }]));
  });

  it('returns the caller cacheKey as is', () => {
    expect(keyFor({ ...base, cacheKey: 'all_products' })).toBe('all_products');
    expect(() => keyFor({ ...base, cacheKey: '' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('rejects functions and symbols', () => {
    expect(() => k([() => 1])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => k([Symbol('s')])).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('never gives two different parameter lists the same key (property)', () => {
    const scalar = fc.oneof(
      fc.constant(null),
      fc.constant(undefined),
      fc.boolean(),
      fc.double({ noNaN: true }),
      fc.bigInt(),
      fc.string(),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u)),
    );
    const param = fc.oneof(scalar, fc.array(scalar, { maxLength: 3 }));
    fc.assert(
      fc.property(fc.array(param, { maxLength: 4 }), fc.array(param, { maxLength: 4 }), (a, b) => {
        const same = canonical(a) === canonical(b);
        expect(k(a) === k(b)).toBe(same);
      }),
      { numRuns: 500 },
    );
  });
});

// An independent rendering of "the same parameters" for the property test.
function canonical(v: unknown): string {
  if (v === undefined) return 'U';
  if (v === null) return 'N';
  if (typeof v === 'bigint') return `i${v}`;
  if (typeof v === 'number') return Object.is(v, -0) ? 'd-0' : `d${v}`;
  if (typeof v === 'string') return `s${JSON.stringify(v)}`;
  if (typeof v === 'boolean') return `b${v}`;
  if (v instanceof Date) return `t${v.getTime()}`;
  if (Buffer.isBuffer(v)) return `x${v.toString('hex')}`;
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `j${JSON.stringify(v)}`;
}
