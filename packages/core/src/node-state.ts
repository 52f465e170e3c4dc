import type { NodeState } from './contracts/balancer.js';

/** What `createNodeState` needs: identity and role; every other field has a default. */
export type NodeStateInit = Pick<NodeState, 'id' | 'clusterId' | 'role'> & Partial<Omit<NodeState, 'id' | 'clusterId'>>;

/**
 * A `NodeState` with every field present (one object shape for every node, so
 * balancers' property reads stay monomorphic): `weight` 1, `inFlight` 0,
 * `ewmaLatencyMs` 0, `lastSampleAt` 0 (never measured), `healthScore` 100,
 * `healthy` true, `lagBytes` 0, `lagMs` 0, then `init` applied.
 *
 * @example
 * const node = createNodeState({ id: 'replica-1', clusterId: 'users_cluster', role: 'replica' });
 */
export function createNodeState(init: NodeStateInit): NodeState {
  return {
    id: init.id,
    clusterId: init.clusterId,
    role: init.role,
    weight: init.weight ?? 1,
    inFlight: init.inFlight ?? 0,
    ewmaLatencyMs: init.ewmaLatencyMs ?? 0,
    lastSampleAt: init.lastSampleAt ?? 0,
    healthScore: init.healthScore ?? 100,
    healthy: init.healthy ?? true,
    lagBytes: init.lagBytes ?? 0,
    lagMs: init.lagMs ?? 0,
  };
}

/** Weight of a new sample in a node's latency EWMA (`recordLatency`). */
export const LATENCY_ALPHA = 0.3;
/**
 * Half-life of a latency estimate that gets no samples, ms: before a new sample
 * is mixed in, the old value decays by `2^(-age / LATENCY_HALF_LIFE_MS)`. Also
 * the default `halfLifeMs` with which the latency-based balancers decay it at pick time.
 */
export const LATENCY_HALF_LIFE_MS = 5000;
/** Added to the latency of a failed statement, ms: a node that fails fast does not look fast. */
export const LATENCY_FAILURE_PENALTY_MS = 100;

const LATENCY_K = Math.LN2 / LATENCY_HALF_LIFE_MS;
const LATENCY_MIN_AGE = LATENCY_HALF_LIFE_MS / 64;

/**
 * The one place a node's latency is tracked: the router calls it after every
 * statement on `node`, balancers only read `ewmaLatencyMs` / `lastSampleAt`.
 * `ewmaLatencyMs` becomes `prev + LATENCY_ALPHA * (sample - prev)`, where
 * `sample` is `ms` (plus `LATENCY_FAILURE_PENALTY_MS` when `ok` is false) and
 * `prev` the old estimate decayed by `2^(-age / LATENCY_HALF_LIFE_MS)` (ages
 * under 1/64 of the half-life count as 0), so a node that was slow and recovered
 * is believed at once; the first sample is taken as is. `now` is
 * `performance.now()`; it becomes `lastSampleAt`.
 */
export function recordLatency(node: NodeState, ms: number, ok: boolean, now: number): void {
  let sample = ms > 0 && ms < Number.POSITIVE_INFINITY ? ms : 0;
  if (!ok) sample += LATENCY_FAILURE_PENALTY_MS;
  const at = node.lastSampleAt;
  if (at === 0) {
    node.ewmaLatencyMs = sample;
  } else {
    const age = now - at;
    const prev = age > LATENCY_MIN_AGE ? node.ewmaLatencyMs * Math.exp(-age * LATENCY_K) : node.ewmaLatencyMs;
    node.ewmaLatencyMs = prev + LATENCY_ALPHA * (sample - prev);
  }
  node.lastSampleAt = now > 0 ? now : Number.MIN_VALUE;
}
