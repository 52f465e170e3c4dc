import type { Balancer, NodeState } from '@pg-multiverse/core';
import { type LatencyOptions, latencyModel, pickTime, refreshEffective } from './latency.js';
import { checkInteger, checkNumber, checkWeights } from './options.js';
import { type ClusterState, createStateTable, type NodeSlot, positive, weightOf } from './state-table.js';
import { smoothPick } from './weighted.js';

export interface HealthAwareOptions extends LatencyOptions {
  /** Nodes scoring below this (0..100) are skipped unless none is left. Default 50. */
  healthThreshold?: number;
  /** Weights by node id, as for `weighted`; override `NodeState.weight`. */
  weights?: Readonly<Record<string, number>>;
  /** Latency differences well below this many ms barely matter. Default 1. */
  latencyToleranceMs?: number;
  /** Replication lag (ms) that halves the lag factor. Default 1000. */
  lagScaleMs?: number;
  /** Replication lag (bytes) that halves the lag factor. Default 16 MiB. */
  lagScaleBytes?: number;
  /**
   * Scores are recomputed after at most this many picks of a cluster
   * (integer >= 1). Default 16; 1 scores every pick.
   */
  rescoreEvery?: number;
  /** ...and once they are this many ms old, whatever the pick count (>= 0). Default 1. */
  rescoreAfterMs?: number;
}

/**
 * Health aware: every candidate gets a score in 0..100,
 *
 *   score = health * (0.5 * latency + 0.3 * lag + 0.2 * load)
 *
 * - health  = `healthScore` clamped to 0..100 (0 when `healthy` is false)
 * - latency = (best + T) / (eff + T): `eff` the node's decayed latency (as in
 *   `responseTime`), `best` the lowest among the candidates, T = `latencyToleranceMs`
 * - lag     = 1 / (1 + lagMs / lagScaleMs + lagBytes / lagScaleBytes)
 * - load    = (fewest inFlight + 1) / (inFlight + 1)
 *
 * Nodes scoring below `healthThreshold` are skipped unless none is left; the
 * rest share the reads by smooth weighted round robin with weight
 * `weight * (score / 100)^2`, so a better node gets more, not all, of them.
 *
 * Scoring reads every candidate's state; the smooth pick between two scorings
 * only reads the shares. Scores are recomputed when the candidate list
 * changes, after `rescoreEvery` picks (16) and once `rescoreAfterMs` (1 ms)
 * old: at a high rate a pick costs about what `weighted` costs, at a low rate
 * every pick is scored afresh.
 *
 * @example
 * const b = healthAware({ healthThreshold: 80, weights: { 'replica-1': 2 } });
 */
export function healthAware(options: HealthAwareOptions = {}): Balancer {
  checkNumber('healthThreshold', options.healthThreshold, 0, 100);
  checkNumber('latencyToleranceMs', options.latencyToleranceMs, 0, undefined, true);
  checkNumber('lagScaleMs', options.lagScaleMs, 0, undefined, true);
  checkNumber('lagScaleBytes', options.lagScaleBytes, 0, undefined, true);
  checkInteger('rescoreEvery', options.rescoreEvery, 1);
  checkNumber('rescoreAfterMs', options.rescoreAfterMs, 0);
  const rescoreEvery = options.rescoreEvery ?? 16;
  const rescoreAfterMs = options.rescoreAfterMs ?? 1;
  const threshold = options.healthThreshold ?? 50;
  const tolerance = options.latencyToleranceMs ?? 1;
  const lagMsInv = 1 / (options.lagScaleMs ?? 1000);
  const lagBytesInv = 1 / (options.lagScaleBytes ?? 16 * 1024 * 1024);
  const table = createStateTable(checkWeights(options.weights));
  const model = latencyModel(options);

  /**
   * Writes every slot's `share` from the candidates' state at `state.scoredAt`
   * (read from the state, not passed: a double argument would be boxed).
   */
  function score(candidates: readonly NodeState[], state: ClusterState, slots: readonly NodeSlot[], n: number): void {
    const now = state.scoredAt;
    let bestEff = Number.POSITIVE_INFINITY;
    let minLoad = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const slot = slots[i]!;
      refreshEffective(model, slot, candidates[i]!, now);
      if (slot.eff < bestEff) bestEff = slot.eff;
      const f = candidates[i]!.inFlight;
      if (f < minLoad) minLoad = f;
    }
    if (!(minLoad > 0)) minLoad = 0;
    let eligible = 0;
    for (let i = 0; i < n; i++) {
      const node = candidates[i]!;
      const slot = slots[i]!;
      const hs = node.healthScore;
      const h = node.healthy === false ? 0 : hs >= 0 ? Math.min(hs, 100) : 100;
      const latency = (bestEff + tolerance) / (slot.eff + tolerance);
      // (Missing, NaN and negative lags and counts count as 0.)
      const lagMs = positive(node.lagMs);
      const lagBytes = positive(node.lagBytes);
      const lag = 1 / (1 + lagMs * lagMsInv + lagBytes * lagBytesInv);
      const f = positive(node.inFlight);
      const load = (minLoad + 1) / (f + 1);
      const s = h * (0.5 * latency + 0.3 * lag + 0.2 * load);
      slot.score = s;
      slot.share = weightOf(slot, node) * (s * s) * 1e-4;
      if (s >= threshold) eligible++;
    }
    // Skip nodes under the threshold, unless none is left above it.
    if (eligible > 0 && eligible < n) {
      for (let i = 0; i < n; i++) {
        const slot = slots[i]!;
        if (slot.score < threshold) slot.share = 0;
      }
    }
  }

  return {
    name: 'health_aware',
    pick(candidates, ctx) {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      const state = table.forPick(candidates, ctx);
      const slots = table.align(state, candidates);
      const now = pickTime(ctx);
      if (
        state.scoredVersion !== state.version ||
        ++state.picksSinceScore >= rescoreEvery ||
        !(now - state.scoredAt < rescoreAfterMs) ||
        now < state.scoredAt
      ) {
        state.scoredVersion = state.version;
        state.scoredAt = now;
        state.picksSinceScore = 0;
        score(candidates, state, slots, n);
      }
      return candidates[smoothPick(state, slots, n)];
    },
  };
}
