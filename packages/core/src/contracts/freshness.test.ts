import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Freshness,
  formatLsn,
  freshnessCovers,
  lsnToBigInt,
  type ResultOrigin,
  satisfiesFreshness,
} from './freshness.js';

const NOW = 1_700_000_000_000;
const primary: ResultOrigin = { role: 'primary', lsn: '0/5000', lagMs: 0, at: NOW - 100 };
const replica: ResultOrigin = { role: 'replica', lsn: '0/4000', lagMs: 50, at: NOW - 100 };

describe('satisfiesFreshness', () => {
  it('any: every entry, even of unknown origin', () => {
    expect(satisfiesFreshness(undefined, { level: 'any' }, NOW)).toBe(true);
    expect(satisfiesFreshness(replica, { level: 'any' }, NOW)).toBe(true);
  });

  it('primary: only results read on a primary', () => {
    expect(satisfiesFreshness(primary, { level: 'primary' }, NOW)).toBe(true);
    expect(satisfiesFreshness(replica, { level: 'primary' }, NOW)).toBe(false);
    expect(satisfiesFreshness(undefined, { level: 'primary' }, NOW)).toBe(false);
  });

  it('session: at or past the position, by WAL order (not text order)', () => {
    expect(satisfiesFreshness(replica, { level: 'session', minLsn: '0/4000' }, NOW)).toBe(true);
    expect(satisfiesFreshness(replica, { level: 'session', minLsn: '0/4001' }, NOW)).toBe(false);
    // Compared as numbers: the high half decides first.
    expect(satisfiesFreshness({ role: 'replica', lsn: '1/0' }, { level: 'session', minLsn: '0/FFFFFFFF' }, NOW)).toBe(
      true,
    );
    expect(satisfiesFreshness({ role: 'replica' }, { level: 'session', minLsn: '0/1' }, NOW)).toBe(false);
  });

  it('bounded: age since the load started plus the lag then', () => {
    expect(satisfiesFreshness(primary, { level: 'bounded', maxLagMs: 100 }, NOW)).toBe(true);
    expect(satisfiesFreshness(primary, { level: 'bounded', maxLagMs: 99 }, NOW)).toBe(false);
    expect(satisfiesFreshness(replica, { level: 'bounded', maxLagMs: 150 }, NOW)).toBe(true);
    expect(satisfiesFreshness(replica, { level: 'bounded', maxLagMs: 149 }, NOW)).toBe(false);
    // Unknown lag or unknown read time: never.
    expect(satisfiesFreshness({ role: 'replica', at: NOW }, { level: 'bounded', maxLagMs: 1e9 }, NOW)).toBe(false);
    expect(satisfiesFreshness({ role: 'primary' }, { level: 'bounded', maxLagMs: 1e9 }, NOW)).toBe(false);
  });
});

describe('freshnessCovers', () => {
  const lsn = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map(formatLsn);
  const freshness: fc.Arbitrary<Freshness> = fc.oneof(
    fc.constant({ level: 'any' } as const),
    fc.constant({ level: 'primary' } as const),
    lsn.map((minLsn) => ({ level: 'session', minLsn }) as const),
    fc.integer({ min: 0, max: 10_000 }).map((maxLagMs) => ({ level: 'bounded', maxLagMs }) as const),
  );
  const origin: fc.Arbitrary<ResultOrigin> = fc.record({
    role: fc.constantFrom('primary' as const, 'replica' as const),
    lsn,
    lagMs: fc.integer({ min: 0, max: 10_000 }),
    at: fc.constant(NOW),
  });

  it('a load covers a need only if every result satisfying the load satisfies the need (at the time it loads)', () => {
    fc.assert(
      fc.property(freshness, freshness, origin, (loading, need, o) => {
        // Results a load for `loading` may return: those satisfying it. A primary load is taken to cover a
        // session need because it normally starts after the session's write; when it started before, its
        // position says so and the cache's check after joining (satisfiesFreshness) loads again.
        if (!freshnessCovers(loading, need)) return;
        if (loading.level === 'primary' && need.level === 'session') return;
        if (satisfiesFreshness(o, loading, NOW)) expect(satisfiesFreshness(o, need, NOW)).toBe(true);
      }),
    );
  });

  it('lsnToBigInt and formatLsn round-trip', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => lsnToBigInt(formatLsn(v)) === v));
  });
});
