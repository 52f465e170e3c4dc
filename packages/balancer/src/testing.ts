import { type Balancer, createNodeState, type NodeState } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';

export interface TestBalancerOptions {
  /** Title of the `describe` block. Default: the balancer's name. */
  name?: string;
  /**
   * Also check that identical candidates all get picked (load is spread).
   * Turn off for a balancer that pins one node on purpose. Default true.
   */
  spreadsLoad?: boolean;
}

/** Small seeded PRNG (mulberry32), so a failure replays the same way. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A plausible node (healthy, idle, unmeasured) with `patch` applied. */
export function makeNode(id: string, patch: Partial<NodeState> = {}, clusterId = 'c1'): NodeState {
  return createNodeState({ role: 'replica', ...patch, id, clusterId });
}

/** A node with random, sometimes odd, metrics. */
function randomNode(rnd: () => number, id: string, clusterId: string, now: number): NodeState {
  const odd = rnd() < 0.1;
  return makeNode(
    id,
    {
      weight: odd ? 0 : Math.floor(rnd() * 5),
      inFlight: Math.floor(rnd() * 4),
      ewmaLatencyMs: rnd() < 0.2 ? 0 : rnd() * 50,
      lastSampleAt: rnd() < 0.2 ? 0 : now - rnd() * 10_000,
      healthScore: Math.floor(rnd() * 101),
      healthy: rnd() > 0.1,
      lagBytes: odd ? 1e9 : Math.floor(rnd() * 1e6),
      lagMs: odd ? 60_000 : rnd() * 500,
    },
    clusterId,
  );
}

function snapshot(nodes: readonly NodeState[]): string {
  return JSON.stringify(nodes);
}

/**
 * Conformance suite for a `Balancer`: registers vitest tests checking that
 * `pick` never returns a node outside the candidates, handles 0, 1 and many
 * candidates, survives candidates and clusters changing between calls, leaves
 * node states and the array untouched, and that `observe` (if any) accepts
 * any node. Call it at the top level of a test file.
 *
 * @example
 * import { testBalancer } from '@pg-multiverse/balancer/testing';
 * testBalancer(() => myBalancer());
 */
export function testBalancer(factory: () => Balancer, options: TestBalancerOptions = {}): void {
  const title = options.name ?? factory().name;
  const spreads = options.spreadsLoad ?? true;

  describe(`Balancer conformance: ${title}`, () => {
    it('has a non-empty name and a pick function', () => {
      const b = factory();
      expect(typeof b.name).toBe('string');
      expect(b.name.length).toBeGreaterThan(0);
      expect(typeof b.pick).toBe('function');
    });

    it('returns undefined for no candidates, with or without context', () => {
      const b = factory();
      expect(b.pick([])).toBeUndefined();
      expect(b.pick([], { clusterId: 'c1', now: performance.now() })).toBeUndefined();
    });

    it('returns the only candidate, whatever its metrics', () => {
      const b = factory();
      const odd = [
        makeNode('only'),
        makeNode('only', { weight: 0, healthScore: 0, healthy: false, inFlight: 99, lagMs: 1e6, lagBytes: 1e12 }),
        makeNode('only', { ewmaLatencyMs: 5000, lastSampleAt: performance.now() }),
      ];
      for (const node of odd) {
        for (let i = 0; i < 5; i++) expect(b.pick([node])).toBe(node);
      }
    });

    it('always picks one of many candidates, and never mutates them', () => {
      const b = factory();
      const rnd = prng(42);
      for (let round = 0; round < 200; round++) {
        const now = performance.now();
        const n = 2 + Math.floor(rnd() * 10);
        const nodes = Array.from({ length: n }, (_, i) => randomNode(rnd, `n${i}`, 'c1', now));
        const before = snapshot(nodes);
        const frozen = Object.freeze(nodes.slice());
        for (let k = 0; k < 20; k++) {
          const picked = b.pick(frozen, k % 2 ? { clusterId: 'c1', now } : undefined);
          expect(picked).toBeDefined();
          expect(frozen.includes(picked as NodeState)).toBe(true);
        }
        expect(snapshot(nodes)).toBe(before);
      }
    });

    it('survives candidates changing between calls (subsets, new objects, other clusters, empty)', () => {
      const b = factory();
      const rnd = prng(7);
      const pool = Array.from({ length: 12 }, (_, i) => makeNode(`n${i}`));
      for (let k = 0; k < 2000; k++) {
        const mode = Math.floor(rnd() * 5);
        let candidates: NodeState[];
        if (mode === 0) candidates = [];
        else if (mode === 1) candidates = pool.filter(() => rnd() < 0.5);
        else if (mode === 2) candidates = pool.slice(0, 1 + Math.floor(rnd() * pool.length)).map((n) => ({ ...n }));
        else if (mode === 3)
          candidates = Array.from({ length: 1 + Math.floor(rnd() * 6) }, (_, i) =>
            randomNode(rnd, `x${i}`, 'c2', performance.now()),
          );
        else candidates = pool.slice().reverse();
        const clusterId = candidates[0]?.clusterId;
        const picked = b.pick(candidates, rnd() < 0.5 ? { clusterId } : undefined);
        if (candidates.length === 0) expect(picked).toBeUndefined();
        else expect(candidates.includes(picked as NodeState)).toBe(true);
        if (picked && b.observe) b.observe(picked, rnd() * 20, rnd() > 0.1);
      }
    });

    it('observe (if implemented) accepts any node, including ones never picked', () => {
      const b = factory();
      if (!b.observe) return;
      const stranger = makeNode('stranger', {}, 'elsewhere');
      expect(() => b.observe?.(stranger, 12.5, true)).not.toThrow();
      expect(() => b.observe?.(stranger, 0, false)).not.toThrow();
      expect(() => b.observe?.(makeNode('n0'), Number.NaN, true)).not.toThrow();
      const nodes = [makeNode('a'), makeNode('b')];
      expect(nodes.includes(b.pick(nodes) as NodeState)).toBe(true);
    });

    if (spreads) {
      it('spreads picks over identical candidates', () => {
        const b = factory();
        for (const n of [2, 3, 8]) {
          const nodes = Array.from({ length: n }, (_, i) => makeNode(`s${i}`, {}, `spread${n}`));
          const seen = new Set<NodeState>();
          for (let k = 0; k < 100 * n && seen.size < n; k++) seen.add(b.pick(nodes) as NodeState);
          expect(seen.size).toBe(n);
        }
      });
    }
  });
}
