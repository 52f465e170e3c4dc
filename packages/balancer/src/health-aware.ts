import type { Balancer } from '@pg-multiverse/core';
import { type LatencyOptions, latencyModel, observeLatency } from './latency.js';
import { checkNumber, checkWeights } from './options.js';
import { createStateTable, weightOf } from './state-table.js';
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
 * @example
 * const b = healthAware({ healthThreshold: 80, weights: { 'replica-1': 2 } });
 */
export function healthAware(options: HealthAwareOptions = {}): Balancer {
  checkNumber('healthThreshold', options.healthThreshold, 0, 100);
  checkNumber('latencyToleranceMs', options.latencyToleranceMs, 0, undefined, true);
  checkNumber('lagScaleMs', options.lagScaleMs, 0, undefined, true);
  checkNumber('lagScaleBytes', options.lagScaleBytes, 0, undefined, true);
  const threshold = options.healthThreshold ?? 50;
  const tolerance = options.latencyToleranceMs ?? 1;
  const lagMsScale = options.lagScaleMs ?? 1000;
  const lagBytesScale = options.lagScaleBytes ?? 16 * 1024 * 1024;
  const table = createStateTable(checkWeights(options.weights));
  const model = latencyModel(options);
  const k = model.k;
  const minAge = model.minAge;

  return {
    name: 'health_aware',
    pick(candidates, ctx) {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      const state = table.forPick(candidates, ctx);
      const slots = table.align(state, candidates);
      const now = ctx?.now ?? performance.now();

      let bestEff = Number.POSITIVE_INFINITY;
      let minLoad = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const node = candidates[i]!;
        const slot = slots[i]!;
        // effective latency (see latency.ts), inlined: a helper returning a double would box it
        let ewma = slot.ewma;
        let at = slot.at;
        if (at === 0) {
          ewma = node.ewmaLatencyMs;
          at = node.lastSampleAt;
          if (!(ewma > 0)) ewma = 0;
        }
        const age = now - at;
        const eff = age > minAge ? ewma * Math.exp(-age * k) : ewma;
        slot.eff = eff;
        if (eff < bestEff) bestEff = eff;
        const f = node.inFlight || 0;
        if (f < minLoad) minLoad = f;
      }
      if (!(minLoad > 0)) minLoad = 0;

      let eligible = 0;
      for (let i = 0; i < n; i++) {
        const node = candidates[i]!;
        const slot = slots[i]!;
        const h = node.healthy === false ? 0 : node.healthScore >= 0 ? Math.min(node.healthScore, 100) : 100;
        const latency = (bestEff + tolerance) / (slot.eff + tolerance);
        const lagMs = node.lagMs;
        const lagBytes = node.lagBytes;
        const lag = 1 / (1 + (lagMs > 0 ? lagMs / lagMsScale : 0) + (lagBytes > 0 ? lagBytes / lagBytesScale : 0));
        const f = node.inFlight;
        const load = (minLoad + 1) / (f > 0 ? f + 1 : 1);
        const score = h * (0.5 * latency + 0.3 * lag + 0.2 * load);
        slot.score = score;
        slot.share = weightOf(slot, node) * (score * score) * 1e-4;
        if (score >= threshold) eligible++;
      }
      // Skip nodes under the threshold, unless none is left above it.
      if (eligible > 0 && eligible < n) {
        for (let i = 0; i < n; i++) {
          const slot = slots[i]!;
          if (slot.score < threshold) slot.share = 0;
        }
      }
      return candidates[smoothPick(state, slots, n)];
    },
    observe(node, latencyMs, ok) {
      observeLatency(model, table.slot(node.clusterId, node.id), latencyMs, ok, performance.now());
    },
  };
}
