import type { NodeState } from '@pg-multiverse/core';
import { checkNumber } from './options.js';
import type { NodeSlot } from './state-table.js';

export interface LatencyOptions {
  /**
   * Half-life of the decay of a node's latency estimate while it gets no
   * samples, ms. Default 5000. The effective latency used for picking is
   * `ewma * 2^(-age / halfLifeMs)` where `age` is the time since the node's
   * last sample: a node that was slow once is tried again after about
   * `halfLifeMs * log2(itsLatency / bestLatency)`.
   */
  halfLifeMs?: number;
  /** Weight of a new sample in the EWMA kept from `observe` (0 < alpha <= 1). Default 0.3. */
  alpha?: number;
  /** Added to the latency of a failed query (`observe(node, ms, false)`), ms. Default 100. */
  failurePenaltyMs?: number;
}

export interface LatencyModel {
  /** Effective (decayed) latency of a node at `now`, ms; 0 for a node never measured. */
  effective(slot: NodeSlot, node: NodeState, now: number): number;
  /** Feeds one sample into the slot's EWMA (decaying the old value first). */
  observe(slot: NodeSlot, latencyMs: number, ok: boolean, now: number): void;
}

/**
 * Latency estimate per node. Samples from `observe` go into a time-decayed
 * EWMA kept by the balancer: before mixing in a sample, the old value decays by
 * `2^(-age / halfLifeMs)`, so a node that recovered is judged on its new
 * latency at once. Without `observe` calls, the router's `ewmaLatencyMs` /
 * `lastSampleAt` are used, decayed the same way.
 */
export function latencyModel(options: LatencyOptions = {}): LatencyModel {
  checkNumber('halfLifeMs', options.halfLifeMs, 0, undefined, true);
  checkNumber('alpha', options.alpha, 0, 1, true);
  checkNumber('failurePenaltyMs', options.failurePenaltyMs, 0);
  const k = Math.LN2 / (options.halfLifeMs ?? 5000);
  const alpha = options.alpha ?? 0.3;
  const penalty = options.failurePenaltyMs ?? 100;
  return {
    effective(slot, node, now) {
      let ewma = slot.ewma;
      let at = slot.at;
      if (at === 0) {
        ewma = node.ewmaLatencyMs;
        at = node.lastSampleAt;
        if (!(ewma > 0)) return 0;
      }
      const age = now - at;
      return age > 0 ? ewma * Math.exp(-age * k) : ewma;
    },
    observe(slot, latencyMs, ok, now) {
      let sample = latencyMs > 0 && latencyMs < Number.POSITIVE_INFINITY ? latencyMs : 0;
      if (!ok) sample += penalty;
      if (slot.at === 0) {
        slot.ewma = sample;
      } else {
        const age = now - slot.at;
        const prev = age > 0 ? slot.ewma * Math.exp(-age * k) : slot.ewma;
        slot.ewma = prev + alpha * (sample - prev);
      }
      slot.at = now > 0 ? now : Number.MIN_VALUE;
    },
  };
}
