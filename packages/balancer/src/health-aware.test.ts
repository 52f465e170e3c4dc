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

  it('reuses its scores for at most rescoreEvery picks at one time', () => {
    const now = 1000;
    const list = [makeNode('a'), makeNode('b')];
    const b = healthAware({ rescoreEvery: 4, healthThreshold: 80 });
    b.pick(list, { now }); // scored: both eligible
    list[0]!.healthScore = 10; // now under the threshold
    const seen: string[] = [];
    for (let k = 0; k < 3; k++) seen.push(b.pick(list, { now })!.id);
    // Picks 2..4 still use the first scoring: 'a' keeps its turn.
    expect(seen).toContain('a');
    // Pick 5 rescores: 'a' is skipped from then on.
    for (let k = 0; k < 20; k++) expect(b.pick(list, { now })!.id).toBe('b');
  });

  it('rescoreEvery: 1 scores every pick', () => {
    const now = 1000;
    const list = [makeNode('a'), makeNode('b')];
    const b = healthAware({ rescoreEvery: 1, healthThreshold: 80 });
    b.pick(list, { now });
    list[0]!.healthScore = 10;
    for (let k = 0; k < 10; k++) expect(b.pick(list, { now })!.id).toBe('b');
  });

  it('rescores once the scores are rescoreAfterMs old, and when the candidates change', () => {
    const list = [makeNode('a'), makeNode('b')];
    const b = healthAware({ rescoreEvery: 1_000_000, rescoreAfterMs: 5, healthThreshold: 80 });
    b.pick(list, { now: 1000 });
    list[0]!.healthScore = 10;
    const early = new Set<string>();
    for (let k = 0; k < 10; k++) early.add(b.pick(list, { now: 1004 })!.id);
    expect(early).toEqual(new Set(['a', 'b']));
    for (let k = 0; k < 10; k++) expect(b.pick(list, { now: 1005 })!.id).toBe('b');
    // A new candidate list is scored at once, whatever the time.
    const other = [makeNode('c', { healthScore: 10 }), list[1]!];
    for (let k = 0; k < 10; k++) expect(b.pick(other, { now: 1005 })!.id).toBe('b');
  });

  it('rejects a rescoreEvery that is not an integer >= 1 and a negative rescoreAfterMs', () => {
    for (const bad of [0, 1.5, -1, Number.NaN]) {
      expect(() => healthAware({ rescoreEvery: bad })).toThrow(/rescoreEvery must be/);
    }
    expect(() => healthAware({ rescoreAfterMs: -1 })).toThrow(/rescoreAfterMs must be/);
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
