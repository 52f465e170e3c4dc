import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { powerOfTwoChoices } from './power-of-two.js';
import { makeNode } from './testing.js';

describe('powerOfTwoChoices', () => {
  it('never picks the single most loaded node (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 50 }), { minLength: 2, maxLength: 20 }), fc.integer(), (loads, seed) => {
        let s = seed;
        const random = () => {
          s = (Math.imul(s, 1103515245) + 12345) | 0;
          return (s >>> 0) / 4294967296;
        };
        const b = powerOfTwoChoices({ random });
        const list = loads.map((f, i) => makeNode(`n${i}`, { inFlight: f }));
        const max = Math.max(...loads);
        const maxNodes = list.filter((n) => n.inFlight === max);
        for (let k = 0; k < 50; k++) {
          const p = b.pick(list)!;
          if (maxNodes.length === 1) expect(p).not.toBe(maxNodes[0]);
          expect(list).toContain(p);
        }
      }),
    );
  });

  it('compares two distinct candidates, the less loaded wins', () => {
    const list = [makeNode('busy', { inFlight: 5 }), makeNode('idle')];
    const b = powerOfTwoChoices();
    for (let k = 0; k < 50; k++) expect(b.pick(list)!.id).toBe('idle');
  });

  it('spreads picks over equal nodes', () => {
    const list = Array.from({ length: 4 }, (_, i) => makeNode(`n${i}`));
    const b = powerOfTwoChoices();
    const seen = new Set<string>();
    for (let k = 0; k < 400; k++) seen.add(b.pick(list)!.id);
    expect(seen.size).toBe(4);
  });
});
