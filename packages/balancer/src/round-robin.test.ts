import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { roundRobin } from './round-robin.js';
import { makeNode } from './testing.js';

const nodes = (n: number, clusterId = 'c1') => Array.from({ length: n }, (_, i) => makeNode(`r${i}`, {}, clusterId));

describe('roundRobin', () => {
  it('is fair within one pick for any number of candidates and picks (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 2000 }), (n, picks) => {
        const b = roundRobin();
        const list = nodes(n);
        const counts = new Map(list.map((x) => [x, 0]));
        for (let k = 0; k < picks; k++) {
          const p = b.pick(list)!;
          counts.set(p, counts.get(p)! + 1);
        }
        const values = [...counts.values()];
        expect(Math.max(...values) - Math.min(...values)).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('visits candidates in order', () => {
    const b = roundRobin();
    const list = nodes(3);
    expect([1, 2, 3, 4, 5, 6].map(() => b.pick(list)!.id)).toEqual(['r0', 'r1', 'r2', 'r0', 'r1', 'r2']);
  });

  it('keeps one counter per cluster, not one shared by every cluster', () => {
    const b = roundRobin();
    const a = nodes(2, 'A');
    const c = nodes(3, 'B');
    const seenA: string[] = [];
    const seenB: string[] = [];
    for (let k = 0; k < 6; k++) {
      seenA.push(b.pick(a)!.id);
      seenB.push(b.pick(c, { clusterId: 'B' })!.id);
    }
    expect(seenA).toEqual(['r0', 'r1', 'r0', 'r1', 'r0', 'r1']);
    expect(seenB).toEqual(['r0', 'r1', 'r2', 'r0', 'r1', 'r2']);
  });

  it('keeps going when the candidate list shrinks', () => {
    const b = roundRobin();
    const list = nodes(5);
    for (let k = 0; k < 4; k++) b.pick(list);
    const two = list.slice(0, 2);
    const picked = [b.pick(two), b.pick(two), b.pick(two)];
    for (const p of picked) expect(two).toContain(p);
    expect(new Set(picked).size).toBe(2);
  });
});
