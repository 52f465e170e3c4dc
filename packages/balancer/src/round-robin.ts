import type { Balancer } from '@pg-multiverse/core';
import { createStateTable, rotate } from './state-table.js';

/**
 * Round robin (the default): candidates in turn, one counter per cluster.
 * Over any run of picks with the same candidates, counts differ by at most one.
 *
 * @example
 * const b = roundRobin();
 * b.pick(replicas); // replica-1, then replica-2, ...
 */
export function roundRobin(): Balancer {
  const table = createStateTable();
  return {
    name: 'round_robin',
    pick(candidates, ctx) {
      const n = candidates.length;
      if (n <= 1) return candidates[0];
      return candidates[rotate(table.forPick(candidates, ctx), n)];
    },
  };
}
