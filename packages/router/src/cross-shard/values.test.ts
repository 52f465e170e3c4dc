import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addValues,
  comparatorFor,
  compareCodePoints,
  divideDecimal,
  formatDecimal,
  OID,
  parseDecimal,
} from './values.js';

describe('cross-shard values', () => {
  it('int8 strings compare like bigints', () => {
    const cmp = comparatorFor(OID.int8)!;
    expect(cmp('-5', '-5')).toBe(0); // +0, never -0
    expect(cmp('-10', '-9')).toBeLessThan(0);
    expect(cmp('-1', '0')).toBeLessThan(0);
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        (a, b) => {
          expect(Math.sign(cmp(String(a), String(b)))).toBe(a < b ? -1 : a > b ? 1 : 0);
        },
      ),
    );
  });

  it('code point order (UTF-8 byte order) for text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const bytes = Buffer.compare(Buffer.from(a), Buffer.from(b));
        expect(Math.sign(compareCodePoints(a, b))).toBe(bytes);
      }),
    );
  });

  it('sums exactly and divides with PostgreSQL numeric scale', () => {
    expect(addValues('10.50', '0.5')).toBe('11.00');
    expect(addValues('9223372036854775807', '1')).toBe('9223372036854775808');
    expect(addValues(null, '3')).toBe('3');
    const avg = (s: string, n: string) => {
      const a = parseDecimal(s);
      const b = parseDecimal(n);
      return formatDecimal(divideDecimal(a as never, b as never));
    };
    // values PostgreSQL 15 returns for sum/count
    expect(avg('3', '2')).toBe('1.5000000000000000');
    expect(avg('10', '3')).toBe('3.3333333333333333');
    expect(avg('1', '3')).toBe('0.33333333333333333333');
    expect(avg('-7.25', '2')).toBe('-3.6250000000000000');
    expect(avg('123456789', '7')).toBe('17636684.142857142857');
    expect(avg('0', '5')).toBe('0.00000000000000000000');
  });
});
