import { LATENCY_HALF_LIFE_MS, type NodeState, type PickContext } from '@pg-multiverse/core';
import { checkNumber } from './options.js';
import type { NodeSlot } from './state-table.js';

/**
 * Latency is tracked in one place: the router updates `NodeState.ewmaLatencyMs`
 * and `lastSampleAt` with core's `recordLatency` (alpha `LATENCY_ALPHA`, failed
 * statements + `LATENCY_FAILURE_PENALTY_MS`). Balancers only read them and decay
 * the estimate of a node that gets no samples at pick time.
 */
export interface LatencyOptions {
  /**
   * Half-life of the decay of a node's latency estimate while it gets no
   * samples, ms. Default 5000 (core's `LATENCY_HALF_LIFE_MS`). The effective latency used for picking is
   * `ewma * 2^(-age / halfLifeMs)` where `age` is the time since the node's
   * last sample (ages under `halfLifeMs / 64` count as 0, a difference of at
   * most 1.1%): a node that was slow once is tried again after about
   * `halfLifeMs * log2(itsLatency / bestLatency)`.
   */
  halfLifeMs?: number;
}

/** Resolved latency options. */
export interface LatencyModel {
  /** ln 2 / halfLifeMs. */
  readonly k: number;
  /** Ages below this (halfLifeMs / 64) are not decayed. */
  readonly minAge: number;
}

export function latencyModel(options: LatencyOptions = {}): LatencyModel {
  checkNumber('halfLifeMs', options.halfLifeMs, 0, undefined, true);
  const halfLife = options.halfLifeMs ?? LATENCY_HALF_LIFE_MS;
  return { k: Math.LN2 / halfLife, minAge: halfLife / 64 };
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
 * (0 for a node never measured): the router's `ewmaLatencyMs` / `lastSampleAt`
 * times `2^(-age / halfLifeMs)` when `age > minAge`. The decay factor (one
 * `Math.exp`, the costliest step of a pick) is kept per node and recomputed
 * when the node gets a new sample or the factor is older than `minAge`, so it
 * reads at most 1.1% high, like the ages under `minAge` left undecayed.
 * Writes the slot instead of returning the number: a returned double could be boxed.
 */
export function refreshEffective(m: LatencyModel, slot: NodeSlot, node: NodeState, now: number): void {
  let ewma = node.ewmaLatencyMs;
  const at = node.lastSampleAt;
  if (!(ewma > 0)) ewma = 0;
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
