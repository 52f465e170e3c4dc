import { type Balancer, isPgmError, PgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { balancerNames, createBalancer } from './create-balancer.js';
import { makeNode } from './testing.js';

describe('createBalancer', () => {
  it('builds every documented strategy by name', () => {
    expect([...balancerNames]).toEqual([
      'round_robin',
      'weighted',
      'least_connections',
      'response_time',
      'health_aware',
      'power_of_two',
    ]);
    for (const name of balancerNames) expect(createBalancer(name).name).toBe(name);
    expect(createBalancer().name).toBe('round_robin');
  });

  it('returns a new instance each time (state per cluster, never shared)', () => {
    const list = [makeNode('a'), makeNode('b')];
    const one = createBalancer('round_robin');
    const two = createBalancer('round_robin');
    expect(one).not.toBe(two);
    expect(one.pick(list)!.id).toBe('a');
    expect(two.pick(list)!.id).toBe('a');
  });

  it('returns a custom balancer object as is', () => {
    const mine: Balancer = { name: 'last', pick: (c) => c[c.length - 1] };
    expect(createBalancer(mine)).toBe(mine);
  });

  it('passes options through (weights, healthThreshold)', () => {
    const list = [makeNode('replica_1'), makeNode('replica_2')];
    const b = createBalancer('weighted', { weights: { replica_1: 2, replica_2: 1 } });
    const ids = Array.from({ length: 3 }, () => b.pick(list)!.id).sort();
    expect(ids).toEqual(['replica_1', 'replica_1', 'replica_2']);
    expect(() => createBalancer('health_aware', { healthThreshold: 200 })).toThrow(PgmError);
  });

  it('rejects an unknown name with UNKNOWN_BALANCER listing the valid ones', () => {
    let err: unknown;
    try {
      createBalancer('fastest' as never);
    } catch (e) {
      err = e;
    }
    expect(isPgmError(err, 'UNKNOWN_BALANCER')).toBe(true);
    for (const name of balancerNames) expect((err as Error).message).toContain(name);
    expect((err as PgmError).details?.valid).toEqual(balancerNames);
    expect(() => createBalancer('toString' as never)).toThrow(/Unknown load-balancing strategy/);
  });

  it('rejects an object that is not a balancer with INVALID_ARGUMENT', () => {
    let err: unknown;
    try {
      createBalancer({ name: 'x' } as never);
    } catch (e) {
      err = e;
    }
    expect(isPgmError(err, 'INVALID_ARGUMENT')).toBe(true);
  });
});
