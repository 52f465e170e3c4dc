import { describe, expect, it } from 'vitest';
import { runScheduled } from './scheduler.js';

const steps = (spec: Array<[number, number[]]>) => spec.map(([index, prereqs]) => ({ index, prereqs }));

describe('runScheduled', () => {
  it('runs in index order at concurrency 1, respecting prerequisites', async () => {
    const order: number[] = [];
    await runScheduled(
      steps([
        [0, [2]],
        [1, []],
        [2, []],
        [3, [0]],
      ]),
      async (s) => void order.push(s.index),
      {
        concurrency: 1,
        continueOnError: false,
      },
    );
    expect(order).toEqual([1, 2, 0, 3]);
  });
  it('never exceeds the concurrency and never runs a step before its prerequisites', async () => {
    let running = 0;
    let peak = 0;
    const done = new Set<number>();
    const spec = steps(Array.from({ length: 30 }, (_, i) => [i, i >= 3 ? [i - 3] : []] as [number, number[]]));
    await runScheduled(
      spec,
      async (s) => {
        for (const p of s.prereqs) expect(done.has(p)).toBe(true);
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setImmediate(r));
        running--;
        done.add(s.index);
      },
      { concurrency: 2, continueOnError: false },
    );
    expect(peak).toBe(2);
    expect(done.size).toBe(30);
  });
  it('stops after a failure, or skips only dependents with continueOnError', async () => {
    const spec = steps([
      [0, []],
      [1, [0]],
      [2, []],
      [3, [2]],
    ]);
    const fail = async (s: { index: number }) => {
      if (s.index === 0) throw new Error('boom');
    };
    const stop = await runScheduled(spec, fail, { concurrency: 1, continueOnError: false });
    expect(stop.map((o) => o.state)).toEqual(['failed', 'skipped', 'skipped', 'skipped']);
    const go = await runScheduled(spec, fail, { concurrency: 1, continueOnError: true });
    expect(go.map((o) => o.state)).toEqual(['failed', 'skipped', 'done', 'done']);
  });
});
