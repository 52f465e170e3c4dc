import { describe, expect, it } from 'vitest';
import { latencyModel, refreshEffective } from './latency.js';
import { createStateTable } from './state-table.js';
import { makeNode } from './testing.js';

describe('refreshEffective', () => {
  it('decays a stale latency by 2^(-age / halfLifeMs), reading at most 1.1% high, never low', () => {
    const m = latencyModel({ halfLifeMs: 1000 });
    const slot = createStateTable().slot('c', 'n');
    const node = makeNode('n', { ewmaLatencyMs: 40, lastSampleAt: 500 });
    for (let now = 500; now < 10_000; now += 7) {
      refreshEffective(m, slot, node, now);
      const exact = 40 * 2 ** (-(now - 500) / 1000);
      expect(slot.eff).toBeGreaterThanOrEqual(exact * (1 - 1e-12));
      expect(slot.eff).toBeLessThanOrEqual(exact * 1.011);
    }
  });

  it('follows a new sample at once', () => {
    const m = latencyModel({ halfLifeMs: 1000 });
    const slot = createStateTable().slot('c', 'n');
    const node = makeNode('n', { ewmaLatencyMs: 40, lastSampleAt: 500 });
    refreshEffective(m, slot, node, 3000);
    expect(slot.eff).toBeLessThan(10);
    node.ewmaLatencyMs = 25;
    node.lastSampleAt = 3000;
    refreshEffective(m, slot, node, 3001);
    expect(slot.eff).toBe(25);
  });
});
