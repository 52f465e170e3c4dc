import { describe, expect, it } from 'vitest';
import { formatRebalancePlan, planRebalance } from './plan-rebalance.js';

const owners = (n: number, shards: string[]) => Array.from({ length: n }, (_, p) => shards[p % shards.length]!);

describe('planRebalance', () => {
  it('spreads 8 partitions of two servers over three, moving only what must move', () => {
    const plan = planRebalance({
      cluster: 'c',
      mapVersion: 1,
      owners: owners(8, ['a', 'b']),
      servers: ['a', 'b', 'c'],
    });
    expect(plan.before).toEqual({ a: 4, b: 4, c: 0 });
    expect(Object.values(plan.after).sort()).toEqual([2, 3, 3]);
    const moved = plan.moves.flatMap((m) => m.partitions);
    expect(moved).toHaveLength(plan.after.c!);
    expect(plan.moves.every((m) => m.to === 'c')).toBe(true);
    expect(new Set(moved).size).toBe(moved.length);
  });

  it('empties a server that is not listed', () => {
    const plan = planRebalance({
      cluster: 'c',
      mapVersion: 3,
      owners: owners(6, ['a', 'b', 'c']),
      servers: ['a', 'b'],
    });
    expect(plan.after).toEqual({ a: 3, b: 3, c: 0 });
    expect(plan.moves.every((m) => m.from === 'c')).toBe(true);
    expect(plan.moves.flatMap((m) => m.partitions).sort()).toEqual([2, 5]);
  });

  it('plans nothing when balanced, and says so', () => {
    const plan = planRebalance({ cluster: 'c', mapVersion: 1, owners: owners(4, ['a', 'b']), servers: ['b', 'a'] });
    expect(plan.moves).toEqual([]);
    expect(formatRebalancePlan(plan)).toMatch(/nothing to move/);
  });

  it('refuses an empty server list', () => {
    expect(() => planRebalance({ cluster: 'c', mapVersion: 1, owners: ['a'], servers: [] })).toThrow(
      /at least one server/,
    );
  });
});
