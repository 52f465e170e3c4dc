import { isPgmError } from '@pg-multiverse/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeNode } from './testing.js';
import { weighted } from './weighted.js';

const arbWeights = fc.array(fc.oneof(fc.integer({ min: 0, max: 20 }), fc.double({ min: 0.05, max: 10, noNaN: true })), {
  minLength: 1,
  maxLength: 8,
});

function shares(weights: number[], picks: number, viaOption: boolean): number[] {
  const list = weights.map((w, i) => makeNode(`w${i}`, { weight: viaOption ? 1 : w }));
  const b = weighted(viaOption ? { weights: Object.fromEntries(weights.map((w, i) => [`w${i}`, w])) } : {});
  const counts = weights.map(() => 0);
  const index = new Map(list.map((x, i) => [x, i]));
  for (let k = 0; k < picks; k++) counts[index.get(b.pick(list)!)!]!++;
  return counts.map((c) => c / picks);
}

describe('weighted (smooth weighted round robin)', () => {
  it('over 100k picks, every share is within 1% of its weight (property)', () => {
    fc.assert(
      fc.property(arbWeights, fc.boolean(), (weights, viaOption) => {
        const total = weights.reduce((a, b) => a + b, 0);
        const got = shares(weights, 100_000, viaOption);
        weights.forEach((w, i) => {
          const expected = total > 0 ? w / total : 1 / weights.length; // all zero: plain rotation
          expect(Math.abs(got[i]! - expected)).toBeLessThanOrEqual(0.01);
        });
      }),
      { numRuns: 40 },
    );
  });

  it('interleaves instead of bursting: 5:1:1 gives a a b a c a a', () => {
    const list = [makeNode('a', { weight: 5 }), makeNode('b', { weight: 1 }), makeNode('c', { weight: 1 })];
    const b = weighted();
    const seq = Array.from({ length: 14 }, () => b.pick(list)!.id).join('');
    expect(seq).toBe('aabacaaaabacaa');
  });

  it('stays close to the ideal share in every prefix (no bursts, property)', () => {
    fc.assert(
      fc.property(
        arbWeights.filter((w) => w.some((x) => x > 0)),
        (weights) => {
          const total = weights.reduce((a, b) => a + b, 0);
          const list = weights.map((w, i) => makeNode(`w${i}`, { weight: w }));
          const b = weighted();
          const counts = weights.map(() => 0);
          let worst = 0;
          for (let k = 1; k <= 500; k++) {
            counts[list.indexOf(b.pick(list)!)]!++;
            for (let i = 0; i < weights.length; i++) {
              worst = Math.max(worst, Math.abs(counts[i]! - (k * weights[i]!) / total));
            }
          }
          expect(worst).toBeLessThan(2);
        },
      ),
      { seed: 20240611, numRuns: 200 },
    );
  });

  it('never picks a weight-0 node while another has weight', () => {
    const list = [makeNode('zero', { weight: 0 }), makeNode('one', { weight: 1 }), makeNode('two', { weight: 2 })];
    const b = weighted();
    for (let k = 0; k < 300; k++) expect(b.pick(list)!.id).not.toBe('zero');
  });

  it('the weights option overrides NodeState.weight by node id', () => {
    const list = [makeNode('replica-1', { weight: 1 }), makeNode('replica-2', { weight: 9 })];
    const b = weighted({ weights: { 'replica-1': 3 } });
    const counts = { 'replica-1': 0, 'replica-2': 0 } as Record<string, number>;
    for (let k = 0; k < 1200; k++) counts[b.pick(list)!.id]!++;
    expect(counts['replica-1']).toBe(300); // 3 : 9
    expect(counts['replica-2']).toBe(900);
  });

  it('follows weight changes made by the router on the node states', () => {
    const list = [makeNode('a', { weight: 1 }), makeNode('b', { weight: 1 })];
    const b = weighted();
    for (let k = 0; k < 10; k++) b.pick(list);
    list[0]!.weight = 3;
    const counts: Record<string, number> = { a: 0, b: 0 };
    for (let k = 0; k < 400; k++) counts[b.pick(list)!.id]!++;
    expect(counts.a).toBe(300);
  });

  it('keeps separate state per cluster', () => {
    const b = weighted();
    const x = [makeNode('a', { weight: 2 }, 'X'), makeNode('b', { weight: 1 }, 'X')];
    const y = [makeNode('a', { weight: 1 }, 'Y'), makeNode('b', { weight: 2 }, 'Y')];
    const sx: string[] = [];
    const sy: string[] = [];
    for (let k = 0; k < 6; k++) {
      sx.push(b.pick(x)!.id);
      sy.push(b.pick(y)!.id);
    }
    expect(sx.join('')).toBe('abaaba');
    expect(sy.join('')).toBe('babbab');
  });

  it('rejects negative or non-finite weights with INVALID_ARGUMENT', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      let err: unknown;
      try {
        weighted({ weights: { a: bad } });
      } catch (e) {
        err = e;
      }
      expect(isPgmError(err, 'INVALID_ARGUMENT')).toBe(true);
    }
  });
});
