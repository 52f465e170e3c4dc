import type { Balancer } from '@pg-multiverse/core';
import { checkWeights } from './options.js';
import { type ClusterState, createStateTable, type NodeSlot, rotate, weightOf } from './state-table.js';

export interface WeightedOptions {
  /**
   * Weights by node id; override `NodeState.weight` (which the router fills
   * from the per-node `weight` or `loadBalancing.weights`). Finite, >= 0.
   * A node of weight 0 is only picked when every candidate weighs 0.
   */
  weights?: Readonly<Record<string, number>>;
}

/**
 * Smooth weighted round robin over the first `n` slots, each weighing
 * `slot.share`: every pick adds each weight to its node's `current`, takes the
 * largest `current` and subtracts the total from it. Deterministic, no bursts
 * (5:1:1 gives a a b a c a a), exact shares over every full period. Falls back
 * to plain rotation when every weight is 0. Returns the index picked.
 */
export function smoothPick(state: ClusterState, slots: readonly NodeSlot[], n: number): number {
  let total = 0;
  let best = -1;
  let bestCurrent = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const slot = slots[i]!;
    const w = slot.share;
    if (!(w > 0)) continue;
    const c = slot.current + w;
    slot.current = c;
    total += w;
    if (c > bestCurrent) {
      bestCurrent = c;
      best = i;
    }
  }
  if (best < 0) return rotate(state, n);
  slots[best]!.current -= total;
  return best;
}

/**
 * Weighted: smooth weighted round robin (as in nginx). Shares match the
 * weights exactly over each period, interleaved rather than in bursts.
 *
 * @example
 * const b = weighted({ weights: { 'replica-1': 2, 'replica-2': 1 } });
 */
export function weighted(options: WeightedOptions = {}): Balancer {
  const table = createStateTable(checkWeights(options.weights));
  return {
    name: 'weighted',
    pick(candidates, ctx) {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      const state = table.forPick(candidates, ctx);
      const slots = table.align(state, candidates);
      // smoothPick, fused with reading the weights (hot path).
      let total = 0;
      let best = -1;
      let bestCurrent = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const slot = slots[i]!;
        const w = weightOf(slot, candidates[i]!);
        if (w === 0) continue;
        const c = slot.current + w;
        slot.current = c;
        total += w;
        if (c > bestCurrent) {
          bestCurrent = c;
          best = i;
        }
      }
      if (best < 0) return candidates[rotate(state, n)];
      slots[best]!.current -= total;
      return candidates[best];
    },
  };
}
