import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leastConnections } from './least-connections.js';
import { makeNode } from './testing.js';

describe('leastConnections', () => {
  it('never picks a node with more in-flight queries than another candidate (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.nat({ max: 6 }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 50 }),
        (rounds) => {
          const b = leastConnections();
          for (const loads of rounds) {
            const list = loads.map((f, i) => makeNode(`n${i}`, { inFlight: f }));
            const picked = b.pick(list)!;
            expect(picked.inFlight).toBe(Math.min(...loads));
          }
        },
      ),
    );
  });

  it('breaks ties without always favouring the first node', () => {
    const b = leastConnections();
    const list = [makeNode('a', { inFlight: 2 }), makeNode('b'), makeNode('c'), makeNode('d')];
    const seen = [b.pick(list)!.id, b.pick(list)!.id, b.pick(list)!.id];
    expect(new Set(seen)).toEqual(new Set(['b', 'c', 'd']));
  });

  it('tied nodes take turns exactly (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat({ max: 3 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 1, max: 20 }),
        (loads, rounds) => {
          const b = leastConnections();
          const list = loads.map((f, i) => makeNode(`n${i}`, { inFlight: f }));
          const min = Math.min(...loads);
          const tied = list.filter((n) => n.inFlight === min);
          const counts = new Map<unknown, number>();
          for (let k = 0; k < rounds * tied.length; k++) {
            const p = b.pick(list)!;
            counts.set(p, (counts.get(p) ?? 0) + 1);
          }
          for (const t of tied) expect(counts.get(t)).toBe(rounds);
        },
      ),
    );
  });

  it('spreads a burst of concurrent queries when the caller counts them in flight', () => {
    const b = leastConnections();
    const list = [makeNode('a'), makeNode('b'), makeNode('c')];
    for (let k = 0; k < 9; k++) b.pick(list)!.inFlight++;
    expect(list.map((n) => n.inFlight)).toEqual([3, 3, 3]);
  });

  it('treats missing or negative counters as 0', () => {
    const b = leastConnections();
    const list = [makeNode('a', { inFlight: 1 }), makeNode('b', { inFlight: -5 })];
    expect(b.pick(list)!.id).toBe('b');
  });
});
