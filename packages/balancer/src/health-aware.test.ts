import { isPgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { healthAware } from './health-aware.js';
import { makeNode } from './testing.js';

function counts(b: ReturnType<typeof healthAware>, list: ReturnType<typeof makeNode>[], picks: number, now = 1000) {
  const c: Record<string, number> = Object.fromEntries(list.map((n) => [n.id, 0]));
  for (let k = 0; k < picks; k++) c[b.pick(list, { now })!.id]!++;
  return c;
}

describe('healthAware', () => {
  it('shares evenly between identical nodes', () => {
    const c = counts(healthAware(), [makeNode('a'), makeNode('b'), makeNode('c')], 300);
    expect(c).toEqual({ a: 100, b: 100, c: 100 });
  });

  it('skips nodes scoring under healthThreshold', () => {
    const list = [makeNode('sick', { healthScore: 70 }), makeNode('ok'), makeNode('ok2', { healthScore: 95 })];
    const c = counts(healthAware({ healthThreshold: 80 }), list, 200);
    expect(c.sick).toBe(0);
    expect(c.ok! + c.ok2!).toBe(200);
    // default threshold 50: the 70-point node is eligible but gets less
    const d = counts(healthAware(), list, 1000);
    expect(d.sick).toBeGreaterThan(0);
    expect(d.sick).toBeLessThan(d.ok!);
  });

  it('skips unhealthy nodes while healthy ones are left', () => {
    const list = [makeNode('down', { healthy: false }), makeNode('up')];
    expect(counts(healthAware(), list, 50)).toEqual({ down: 0, up: 50 });
  });

  it('uses nodes under the threshold when none is left above it', () => {
    const list = [makeNode('a', { healthScore: 10 }), makeNode('b', { healthScore: 20 })];
    const c = counts(healthAware({ healthThreshold: 90 }), list, 100);
    expect(c.a! + c.b!).toBe(100);
    expect(c.a).toBeGreaterThan(0);
    expect(c.b).toBeGreaterThan(c.a!);
  });

  it('moves reads away from a slow node and from a lagging one', () => {
    const now = 1000;
    const slow = [
      makeNode('slow', { ewmaLatencyMs: 30, lastSampleAt: now }),
      makeNode('fast', { ewmaLatencyMs: 0.5, lastSampleAt: now }),
    ];
    const c = counts(healthAware(), slow, 1000, now);
    expect(c.slow).toBeLessThan(c.fast! / 2);
    const lag = [makeNode('lagging', { lagMs: 5000 }), makeNode('fresh')];
    const d = counts(healthAware(), lag, 1000, now);
    expect(d.lagging).toBeLessThan(d.fresh!);
  });

  it('documents its score: health * (0.5 latency + 0.3 lag + 0.2 load)', () => {
    // lag 1000 ms halves the lag factor: score = 100 * (0.5 + 0.15 + 0.2) = 85
    const list = [makeNode('half-lag', { lagMs: 1000 }), makeNode('perfect')];
    expect(counts(healthAware({ healthThreshold: 85 }), list, 100)['half-lag']).toBeGreaterThan(0);
    expect(counts(healthAware({ healthThreshold: 85.1 }), list, 100)['half-lag']).toBe(0);
    // shares follow weight * score^2: 85^2 : 100^2
    const c = counts(healthAware(), list, 17_225);
    expect(c['half-lag']).toBe(7225);
  });

  it('honours weights (option by id, else NodeState.weight)', () => {
    const list = [makeNode('replica_1', { weight: 1 }), makeNode('replica_2', { weight: 1 })];
    expect(counts(healthAware({ weights: { replica_1: 2, replica_2: 1 } }), list, 300)).toEqual({
      replica_1: 200,
      replica_2: 100,
    });
    list[1]!.weight = 3;
    expect(counts(healthAware(), list, 400)).toEqual({ replica_1: 100, replica_2: 300 });
  });

  it('rejects a threshold outside 0..100', () => {
    for (const bad of [-1, 101, Number.NaN]) {
      let err: unknown;
      try {
        healthAware({ healthThreshold: bad });
      } catch (e) {
        err = e;
      }
      expect(isPgmError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
