import type { Balancer } from '@pg-multiverse/core';
import { PgmError } from '@pg-multiverse/core';

export interface PowerOfTwoOptions {
  /** Source of uniform numbers in [0, 1). Default `Math.random` (pass a seeded one for reproducible tests). */
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
  return {
    name: 'power_of_two',
    pick(candidates) {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      const r1 = random === undefined ? Math.random() : random();
      const r2 = random === undefined ? Math.random() : random();
      let i = (r1 * n) | 0;
      if (!(i >= 0 && i < n)) i = 0;
      let j = (r2 * (n - 1)) | 0;
      if (!(j >= 0 && j < n - 1)) j = 0;
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
