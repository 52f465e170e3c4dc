import { describe, expect, it } from 'vitest';
import {
  createNodeState,
  LATENCY_ALPHA,
  LATENCY_FAILURE_PENALTY_MS,
  LATENCY_HALF_LIFE_MS,
  recordLatency,
} from './node-state.js';

describe('createNodeState', () => {
  it('fills every field, in one shape, and applies init', () => {
    const a = createNodeState({ id: 'r1', clusterId: 'c', role: 'replica' });
    expect(a).toEqual({
      id: 'r1',
      clusterId: 'c',
      role: 'replica',
      weight: 1,
      inFlight: 0,
      ewmaLatencyMs: 0,
      lastSampleAt: 0,
      healthScore: 100,
      healthy: true,
      lagBytes: 0,
      lagMs: 0,
    });
    const b = createNodeState({ id: 'p', clusterId: 'c', role: 'primary', weight: 3, healthy: false });
    expect(Object.keys(b)).toEqual(Object.keys(a));
    expect(b).toMatchObject({ role: 'primary', weight: 3, healthy: false });
  });
});

describe('recordLatency (the one latency tracker)', () => {
  it('takes the first sample as is, then mixes with LATENCY_ALPHA', () => {
    const n = createNodeState({ id: 'r1', clusterId: 'c', role: 'replica' });
    recordLatency(n, 10, true, 1000);
    expect(n.ewmaLatencyMs).toBe(10);
    expect(n.lastSampleAt).toBe(1000);
    recordLatency(n, 20, true, 1001);
    expect(n.ewmaLatencyMs).toBeCloseTo(10 + LATENCY_ALPHA * 10, 10);
  });

  it('counts a failure as ms + LATENCY_FAILURE_PENALTY_MS', () => {
    const n = createNodeState({ id: 'r1', clusterId: 'c', role: 'replica' });
    recordLatency(n, 1, false, 5);
    expect(n.ewmaLatencyMs).toBe(1 + LATENCY_FAILURE_PENALTY_MS);
  });

  it('decays the old estimate by its age before mixing (a recovered node is believed at once)', () => {
    const n = createNodeState({ id: 'r1', clusterId: 'c', role: 'replica' });
    recordLatency(n, 40, true, 1000);
    recordLatency(n, 1, true, 1000 + 10 * LATENCY_HALF_LIFE_MS);
    const prev = 40 * 2 ** -10;
    expect(n.ewmaLatencyMs).toBeCloseTo(prev + LATENCY_ALPHA * (1 - prev), 10);
  });

  it('ignores odd samples (NaN, negative, infinite count as 0 ms)', () => {
    const n = createNodeState({ id: 'r1', clusterId: 'c', role: 'replica' });
    for (const ms of [Number.NaN, -5, Number.POSITIVE_INFINITY]) recordLatency(n, ms, true, 10);
    expect(n.ewmaLatencyMs).toBe(0);
    expect(n.lastSampleAt).toBe(10);
  });
});
