import type { NodeState, PickContext } from '@pg-multiverse/core';
import { checkNumber } from './options.js';
import type { NodeSlot } from './state-table.js';

export interface LatencyOptions {
  /**
   * Half-life of the decay of a node's latency estimate while it gets no
   * samples, ms. Default 5000. The effective latency used for picking is
   * `ewma * 2^(-age / halfLifeMs)` where `age` is the time since the node's
   * last sample (ages under `halfLifeMs / 64` count as 0, a difference of at
   * most 1.1%): a node that was slow once is tried again after about
   * `halfLifeMs * log2(itsLatency / bestLatency)`.
   */
  halfLifeMs?: number;
  /** Weight of a new sample in the EWMA kept from `observe` (0 < alpha <= 1). Default 0.3. */
  alpha?: number;
  /** Added to the latency of a failed query (`observe(node, ms, false)`), ms. Default 100. */
  failurePenaltyMs?: number;
}

/** Resolved latency options. */
export interface LatencyModel {
  /** ln 2 / halfLifeMs. */
  readonly k: number;
  /** Ages below this (halfLifeMs / 64) are not decayed. */
  readonly minAge: number;
  readonly alpha: number;
  readonly penalty: number;
}

export function latencyModel(options: LatencyOptions = {}): LatencyModel {
  checkNumber('halfLifeMs', options.halfLifeMs, 0, undefined, true);
  checkNumber('alpha', options.alpha, 0, 1, true);
  checkNumber('failurePenaltyMs', options.failurePenaltyMs, 0);
  const halfLife = options.halfLifeMs ?? 5000;
  return {
    k: Math.LN2 / halfLife,
    minAge: halfLife / 64,
    alpha: options.alpha ?? 0.3,
    penalty: options.failurePenaltyMs ?? 100,
  };
}

/**
 * The pick's time: `ctx.now` when the caller has it, else `performance.now()`.
 * Not `ctx?.now ?? performance.now()`: that form boxed the double (16 bytes per pick).
 */
export function pickTime(ctx: PickContext | undefined): number {
  if (ctx !== undefined && typeof ctx.now === 'number') return ctx.now;
  return performance.now();
}

/**
 * Sets `slot.eff` to the effective (decayed) latency of a node at `now`, ms
 * (0 for a node never measured): the balancer's own EWMA (from `observe`)
 * when it has one, else the router's `ewmaLatencyMs` / `lastSampleAt`, times
 * `2^(-age / halfLifeMs)` when `age > minAge`. The decay factor (one
 * `Math.exp`, the costliest step of a pick) is kept per node and recomputed
 * when the node gets a new sample or the factor is older than `minAge`, so it
 * reads at most 1.1% high, like the ages under `minAge` left undecayed.
 * Writes the slot instead of returning the number: a returned double could be boxed.
 */
export function refreshEffective(m: LatencyModel, slot: NodeSlot, node: NodeState, now: number): void {
  let ewma = slot.ewma;
  let at = slot.at;
  if (at === 0) {
    ewma = node.ewmaLatencyMs;
    at = node.lastSampleAt;
    if (!(ewma > 0)) ewma = 0;
  }
  const age = now - at;
  if (!(age > m.minAge)) {
    slot.eff = ewma;
    return;
  }
  if (at !== slot.decayFor || now - slot.decayAt > m.minAge) {
    slot.decay = Math.exp(-age * m.k);
    slot.decayFor = at;
    slot.decayAt = now;
  }
  slot.eff = ewma * slot.decay;
}

/**
 * Feeds one sample into the slot's EWMA kept by the balancer. Before mixing,
 * the old value decays by `2^(-age / halfLifeMs)`, so a node that recovered is
 * judged on its new latency at once. A failure adds `failurePenaltyMs`.
 */
export function observeLatency(m: LatencyModel, slot: NodeSlot, latencyMs: number, ok: boolean, now: number): void {
  let sample = latencyMs > 0 && latencyMs < Number.POSITIVE_INFINITY ? latencyMs : 0;
  if (!ok) sample += m.penalty;
  if (slot.at === 0) {
    slot.ewma = sample;
  } else {
    const age = now - slot.at;
    const prev = age > m.minAge ? slot.ewma * Math.exp(-age * m.k) : slot.ewma;
    slot.ewma = prev + m.alpha * (sample - prev);
  }
  slot.at = now > 0 ? now : Number.MIN_VALUE;
}
