import { isPgmError } from '@pg-multiverse/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { columnHash, hashCombine64, hashShard, partitionRowHash } from './hash-shard.js';

// Reference values from PostgreSQL 15: <type>extended(key, 8816678312871386365) and
// the partition a key lands in (test/hash-shard.test.ts checks thousands of keys live).
const signed = (v: bigint) => BigInt.asIntN(64, v).toString();

describe('columnHash', () => {
  it.each([
    [-1, 'int4', '-5017072347659237694'],
    [2147483647, 'int4', '-6050265599104649060'],
    [0n, 'int8', '-4403592609991167795'],
    [-(1n << 63n), 'int8', '-6050265599104649060'],
    ['', 'text', '-5700645584453517373'],
    ['héllo', 'text', '3506307356728073920'],
    ['00000000-0000-0000-0000-000000000000', 'uuid', '-5281082146396728638'],
  ] as const)('%s as %s', (key, type, expected) => {
    expect(signed(columnHash(key, type))).toBe(expected);
  });

  it('hashes int8 values in int4 range like int4 (cross-type compatibility)', () => {
    for (const v of [0, 1, -1, 123456, -2147483648, 2147483647]) {
      expect(columnHash(BigInt(v), 'int8')).toBe(columnHash(v, 'int4'));
    }
  });

  it('accepts the usual spellings of a key', () => {
    expect(columnHash('42', 'int8')).toBe(columnHash(42n, 'int8'));
    expect(columnHash(42, 'int8')).toBe(columnHash(42n, 'int8'));
    expect(columnHash(' -7 ', 'int4')).toBe(columnHash(-7, 'int4'));
    const u = '0123abcd-4567-89ab-cdef-0123456789ab';
    expect(columnHash(u.toUpperCase(), 'uuid')).toBe(columnHash(u, 'uuid'));
    expect(columnHash(`{${u.replace(/-/g, '')}}`, 'uuid')).toBe(columnHash(u, 'uuid'));
    expect(columnHash(12, 'text')).toBe(columnHash('12', 'text'));
  });

  it('rejects keys PostgreSQL would not accept for the type', () => {
    const bad: [unknown, string][] = [
      [2147483648, 'int4'],
      [1.5, 'int8'],
      [1n << 63n, 'int8'],
      ['12abc', 'int8'],
      ['not-a-uuid', 'uuid'],
      ['a\u0000b', 'text'],
      [1, 'float8'],
    ];
    for (const [key, type] of bad) {
      let err: unknown;
      try {
        columnHash(key as never, type as never);
      } catch (e) {
        err = e;
      }
      expect(isPgmError(err) && err.code === 'INVALID_ARGUMENT').toBe(true);
    }
  });
});

describe('hashShard', () => {
  it('returns the partition PostgreSQL picks', () => {
    expect(hashShard(-1, 8, 'int4')).toBe(5);
    expect(hashShard(-1, 13, 'int4')).toBe(8);
    expect(hashShard('', 8, 'text')).toBe(6);
    expect(hashShard('héllo', 13, 'text')).toBe(1);
    expect(hashShard('00000000-0000-0000-0000-000000000000', 8, 'uuid')).toBe(5);
  });

  it('defaults the type from the key: int8 for numbers, text for strings', () => {
    expect(hashShard(77, 16)).toBe(hashShard(77n, 16, 'int8'));
    expect(hashShard('77', 16)).toBe(hashShard('77', 16, 'text'));
  });

  it('always lands in [0, partitions) and spreads keys', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const p = hashShard(i, 10, 'int4');
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThan(10);
      seen.add(p);
    }
    expect(seen.size).toBe(10);
    expect(hashShard(123, 1)).toBe(0);
  });

  it('validates partitions', () => {
    for (const n of [0, -1, 1.5, Number.NaN]) expect(() => hashShard(1, n)).toThrow(/partitions/);
  });
});

describe('row hash', () => {
  it('starts at 0, combines each column and skips nulls', () => {
    const a = columnHash(5, 'int4');
    const b = columnHash('x', 'text');
    expect(partitionRowHash([[5, 'int4']])).toBe(hashCombine64(0n, a));
    expect(
      partitionRowHash([
        [5, 'int4'],
        ['x', 'text'],
      ]),
    ).toBe(hashCombine64(hashCombine64(0n, a), b));
    expect(
      partitionRowHash([
        [null, 'int4'],
        ['x', 'text'],
      ]),
    ).toBe(hashCombine64(0n, b));
    expect(partitionRowHash([])).toBe(0n);
  });

  it('hash_combine64 stays within 64 bits', () => {
    const max = (1n << 64n) - 1n;
    const v = hashCombine64(max, max);
    expect(v >= 0n && v <= max).toBe(true);
    expect(hashCombine64(0n, 0n)).toBe(0x49a0f4dd15e5a8e3n);
  });
});

describe('hashShard without BigInt (the common keys) equals the BigInt definition', () => {
  const reference = (key: string | number | bigint | Uint8Array, m: number, type: 'int4' | 'int8' | 'text' | 'uuid') =>
    Number(hashCombine64(0n, columnHash(key, type)) % BigInt(m));
  it('int8, int4, text and uuid keys, several moduli (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.maxSafeInteger(),
          fc.integer({ min: -1000, max: 1000 }),
          fc.constantFrom(0, -1, 2 ** 32, -(2 ** 32), 2 ** 32 - 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER),
        ),
        fc.integer({ min: 1, max: 1 << 25 }),
        fc.string(),
        fc.uuid(),
        (n, m, text, uuid) => {
          expect(hashShard(n, m, 'int8')).toBe(reference(n, m, 'int8'));
          expect(hashShard(String(n), m, 'int8')).toBe(reference(BigInt(n), m, 'int8'));
          if (n >= -2147483648 && n <= 2147483647) expect(hashShard(n, m, 'int4')).toBe(reference(n, m, 'int4'));
          if (!text.includes('\u0000')) expect(hashShard(text, m, 'text')).toBe(reference(text, m, 'text'));
          expect(hashShard(uuid, m, 'uuid')).toBe(reference(uuid, m, 'uuid'));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('hashShard integer fast path', () => {
  it('equals the BigInt computation for every safe integer and partition count', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer(),
          fc.maxSafeInteger(),
          fc.maxSafeNat().map((n) => -n),
        ),
        fc.integer({ min: 1, max: 1 << 20 }),
        (key, m) => {
          const slow = Number(hashCombine64(0n, columnHash(BigInt(key), 'int8')) % BigInt(m));
          expect(hashShard(key, m, 'int8')).toBe(slow);
          if (key >= -2147483648 && key <= 2147483647) expect(hashShard(key, m, 'int4')).toBe(slow);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('equals the BigInt computation for power-of-two partition counts (the low-word path)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.maxSafeInteger(), fc.integer()),
        fc.integer({ min: 0, max: 25 }),
        fc.string(),
        fc.uuid(),
        (key, k, text, uuid) => {
          const m = 2 ** k;
          const ref = (v: string | bigint, type: 'int8' | 'text' | 'uuid') =>
            Number(hashCombine64(0n, columnHash(v, type)) % BigInt(m));
          expect(hashShard(key, m, 'int8')).toBe(ref(BigInt(key), 'int8'));
          if (!text.includes('\u0000')) expect(hashShard(text, m, 'text')).toBe(ref(text, 'text'));
          expect(hashShard(uuid, m, 'uuid')).toBe(ref(uuid, 'uuid'));
        },
      ),
      { numRuns: 3000 },
    );
  });
});
