import type { Balancer } from '@pg-multiverse/core';
import { PgmError } from '@pg-multiverse/core';

export interface PowerOfTwoOptions {
  /** Source of uniform numbers in [0, 1). Default: an internal xorshift32 seeded from `Math.random` (pass a seeded function for reproducible runs). */
  random?: () => number;
}

/**
 * Power of two choices: two distinct candidates drawn at random, the less
 * loaded one wins (fewer `inFlight`; then lower `ewmaLatencyMs`). Nearly as
 * good as least connections at spreading load, without herding every caller
 * of a stale view onto the same node, in O(1) whatever the number of nodes.
 * Ignores weights.
 *
 * @example
 * const b = powerOfTwoChoices();
 */
export function powerOfTwoChoices(options: PowerOfTwoOptions = {}): Balancer {
  const random = options.random;
  if (random !== undefined && typeof random !== 'function') {
    throw new PgmError('INVALID_ARGUMENT', 'Balancer option random must be a function returning [0, 1)');
  }
  let seed = (Math.random() * 0x7fffffff) | 1;
  return {
    name: 'power_of_two',
    pick(candidates) {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      let i: number;
      let j: number;
      if (random === undefined) {
        // xorshift32 in int32 arithmetic: Math.random() would box a double per call
        let x = seed;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        i = (x >>> 0) % n;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        seed = x;
        j = (x >>> 0) % (n - 1);
      } else {
        i = (random() * n) | 0;
        if (!(i >= 0 && i < n)) i = 0;
        j = (random() * (n - 1)) | 0;
        if (!(j >= 0 && j < n - 1)) j = 0;
      }
      if (j >= i) j++;
      const a = candidates[i]!;
      const b = candidates[j]!;
      // b wins only when strictly less loaded: fewer in flight, then lower latency (missing counts as 0)
      const fa = a.inFlight || 0;
      const fb = b.inFlight || 0;
      if (fb !== fa) return fb < fa ? b : a;
      const la = a.ewmaLatencyMs || 0;
      const lb = b.ewmaLatencyMs || 0;
      return lb < la ? b : a;
    },
  };
}
