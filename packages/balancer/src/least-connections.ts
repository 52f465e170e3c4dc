import type { Balancer, NodeState } from '@pg-multiverse/core';
import { createStateTable, positive, rotationStart } from './state-table.js';

/**
 * Least connections: the candidate with the fewest queries in flight
 * (`NodeState.inFlight`). Ties are broken by a rotating start, so equal nodes
 * share the load instead of the first one taking it all.
 *
 * @example
 * const b = leastConnections();
 */
export function leastConnections(): Balancer {
  const table = createStateTable();
  return {
    name: 'least_connections',
    pick(candidates, ctx) {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      const state = table.forPick(candidates, ctx);
      const start = rotationStart(state, n);
      let best = start;
      let bestLoad = load(candidates[start]!);
      for (let k = 1; k < n && bestLoad > 0; k++) {
        let i = start + k;
        if (i >= n) i -= n;
        const l = load(candidates[i]!);
        if (l < bestLoad) {
          bestLoad = l;
          best = i;
        }
      }
      // Next search starts after the winner: ties take turns.
      state.rr = best + 1;
      return candidates[best];
    },
  };
}

/** In-flight count; missing, NaN or negative counts as 0. */
function load(node: NodeState): number {
  return positive(node.inFlight);
}
