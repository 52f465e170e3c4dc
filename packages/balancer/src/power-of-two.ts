import type { Balancer, NodeState } from '@pg-multiverse/core';
import { PgmError } from '@pg-multiverse/core';
import { positive } from './state-table.js';

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
      return lessLoaded(b, a) ? b : a;
    },
  };
}

/** True when `x` is strictly less loaded than `y`. */
function lessLoaded(x: NodeState, y: NodeState): boolean {
  const fx = positive(x.inFlight);
  const fy = positive(y.inFlight);
  if (fx !== fy) return fx < fy;
  const lx = positive(x.ewmaLatencyMs);
  const ly = positive(y.ewmaLatencyMs);
  return lx < ly;
}
