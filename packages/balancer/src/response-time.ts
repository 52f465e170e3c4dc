import type { Balancer } from '@pg-multiverse/core';
import { type LatencyOptions, latencyModel, pickTime, refreshEffective } from './latency.js';
import { createStateTable, rotationStart } from './state-table.js';

export interface ResponseTimeOptions extends LatencyOptions {}

/** Keeps a node that was never measured from costing exactly 0 whatever its load. */
const FLOOR_MS = 0.01;

/**
 * Response time: the candidate with the lowest expected cost
 * `(effectiveLatency + 0.01) * (inFlight + 1)`, where the effective latency is
 * the node's latency EWMA decayed while it gets no samples (see
 * `halfLifeMs`): slow nodes get less traffic, a node that was slow once is
 * probed again, and queueing on the fastest node counts against it. Nodes
 * never measured cost ~0, so each is tried early. Ties rotate.
 *
 * @example
 * const b = responseTime({ halfLifeMs: 2000 });
 * // the router records each node's latency (core's recordLatency); b only reads it
 */
export function responseTime(options: ResponseTimeOptions = {}): Balancer {
  const table = createStateTable();
  const model = latencyModel(options);
  return {
    name: 'response_time',
    pick(candidates, ctx) {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      const state = table.forPick(candidates, ctx);
      const slots = table.align(state, candidates);
      const now = pickTime(ctx);
      const start = rotationStart(state, n);
      let best = start;
      let bestCost = Number.POSITIVE_INFINITY;
      for (let j = 0; j < n; j++) {
        let i = start + j;
        if (i >= n) i -= n;
        const node = candidates[i]!;
        const slot = slots[i]!;
        refreshEffective(model, slot, node, now);
        const eff = slot.eff;
        const f = node.inFlight;
        const cost = (eff + FLOOR_MS) * (f > 0 ? f + 1 : 1);
        if (cost < bestCost) {
          bestCost = cost;
          best = i;
        }
      }
      // Next search starts after the winner: ties take turns.
      state.rr = best + 1;
      return candidates[best];
    },
  };
}
