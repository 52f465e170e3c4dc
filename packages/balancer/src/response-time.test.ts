import { recordLatency } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { responseTime } from './response-time.js';
import { makeNode } from './testing.js';

describe('responseTime', () => {
  it('prefers the node with the lowest latency EWMA', () => {
    const now = 100_000;
    const b = responseTime();
    const list = [
      makeNode('slow', { ewmaLatencyMs: 20, lastSampleAt: now }),
      makeNode('fast', { ewmaLatencyMs: 1, lastSampleAt: now }),
      makeNode('mid', { ewmaLatencyMs: 5, lastSampleAt: now }),
    ];
    for (let k = 0; k < 20; k++) expect(b.pick(list, { now })!.id).toBe('fast');
  });

  it('tries a node that was never measured before measured ones', () => {
    const now = 1000;
    const b = responseTime();
    const list = [makeNode('measured', { ewmaLatencyMs: 0.2, lastSampleAt: now }), makeNode('new')];
    expect(b.pick(list, { now })!.id).toBe('new');
  });

  it('counts queueing: a fast node with many queries in flight loses to an idle slower one', () => {
    const now = 1000;
    const b = responseTime();
    const list = [
      makeNode('fast', { ewmaLatencyMs: 1, lastSampleAt: now, inFlight: 9 }),
      makeNode('slower', { ewmaLatencyMs: 4, lastSampleAt: now }),
    ];
    expect(b.pick(list, { now })!.id).toBe('slower');
  });

  it('decays the latency of an unsampled node so a node slow once is tried again (2^(-age/halfLife))', () => {
    const b = responseTime({ halfLifeMs: 1000 });
    const t0 = 50_000;
    const slow = makeNode('slow', { ewmaLatencyMs: 32, lastSampleAt: t0 });
    const fast = makeNode('fast', { ewmaLatencyMs: 1, lastSampleAt: t0 });
    const pickAt = (ageMs: number) => {
      fast.lastSampleAt = t0 + ageMs; // the fast node keeps being sampled
      return b.pick([slow, fast], { now: t0 + ageMs })!.id;
    };
    // 32 * 2^(-age/1000) < 1  <=>  age > 5000 ms
    expect(pickAt(0)).toBe('fast');
    expect(pickAt(3000)).toBe('fast');
    expect(pickAt(4900)).toBe('fast');
    expect(pickAt(5200)).toBe('slow');
  });

  it('follows the latency the router records (core recordLatency), and keeps no copy of its own', () => {
    const b = responseTime();
    expect(b.observe).toBeUndefined();
    const now = 1_000; // one fixed clock reading: no sample can age between the lines below
    const a = makeNode('a', { ewmaLatencyMs: 1, lastSampleAt: now });
    const c = makeNode('c', { ewmaLatencyMs: 50, lastSampleAt: now });
    for (let k = 0; k < 5; k++) {
      recordLatency(a, 40, true, now);
      recordLatency(c, 2, true, now);
    }
    expect(b.pick([a, c], { now })!.id).toBe('c');
  });

  it('avoids a node whose statements fail fast (recordLatency adds the failure penalty)', () => {
    const b = responseTime();
    const a = makeNode('a');
    const c = makeNode('c');
    const now = performance.now();
    recordLatency(a, 1, false, now); // fast failure: counts as 101 ms
    recordLatency(c, 5, true, now);
    for (let k = 0; k < 5; k++) expect(b.pick([a, c], { now })!.id).toBe('c');
  });

  it('rotates between equally fast nodes', () => {
    const now = 10;
    const b = responseTime();
    const list = [makeNode('a'), makeNode('b'), makeNode('c')];
    expect(new Set([1, 2, 3].map(() => b.pick(list, { now })!.id)).size).toBe(3);
  });
});
