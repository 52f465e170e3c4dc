import { roundRobin } from '@pg-multiverse/balancer';
import { createNodeState, type NormalizedCluster } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { chooseRead, type ReadRequest, writablePrimary } from './select-node.js';
import type { ClusterRuntime, GroupRuntime, NodeRuntime } from './topology.js';

// Routing decisions are pure functions of node state; the state objects here are plain data.
function nodeOf(id: string, role: 'primary' | 'replica', extra: Partial<NodeRuntime> = {}): NodeRuntime {
  return {
    key: `c/${id}`,
    id,
    clusterId: 'c',
    configuredRole: role,
    state: createNodeState({ id, clusterId: 'c', role }),
    reachable: true,
    down: false,
    downSince: 0,
    consecutiveFailures: 0,
    responseTime: 0,
    caughtUpAt: 0,
    behindSince: 0,
    lagKnown: true,
    lagging: false,
    backoffSteps: 0,
    queries: 0,
    errors: 0,
    totalTimeMs: 0,
    ...extra,
  } as NodeRuntime;
}

function cluster(): { c: ClusterRuntime; g: GroupRuntime; p: NodeRuntime; r1: NodeRuntime; r2: NodeRuntime } {
  const p = nodeOf('primary', 'primary', { lsn: 1000n });
  const r1 = nodeOf('replica-1', 'replica', { lsn: 1000n });
  const r2 = nodeOf('replica-2', 'replica', { lsn: 500n });
  const g = { key: 'c', clusterId: 'c', nodes: [p, r1, r2], primary: p } as GroupRuntime;
  const c = { id: 'c', cfg: {} as NormalizedCluster, groups: [g], balancer: roundRobin(), down: false, downSince: 0 };
  return { c, g, p, r1, r2 };
}

const base: ReadRequest = {
  consistency: 'eventual',
  readPreference: 'replica',
  maxLagMs: 1000,
  fallbackToPrimary: true,
};
const pick = (c: ClusterRuntime, g: GroupRuntime, r: Partial<ReadRequest>) => chooseRead(c, g, { ...base, ...r });

describe('chooseRead', () => {
  it('sends strong, primary-preference and role=primary reads to the primary', () => {
    const { c, g, p } = cluster();
    expect(pick(c, g, { consistency: 'strong' })).toMatchObject({ node: p, reason: 'strong' });
    expect(pick(c, g, { readPreference: 'primary' })).toMatchObject({ node: p, reason: 'read-preference-primary' });
    expect(pick(c, g, { role: 'primary' })).toMatchObject({ node: p, reason: 'role-primary' });
    expect(pick(c, g, { role: 'replica', consistency: 'strong' })?.node.state.role).toBe('replica');
  });

  it('balances eventual reads over healthy replicas, the primary only with readPreference any', () => {
    const { c, g, p, r1, r2 } = cluster();
    const seen = new Set(Array.from({ length: 6 }, () => pick(c, g, {})!.node));
    expect(seen).toEqual(new Set([r1, r2]));
    const any = new Set(Array.from({ length: 9 }, () => pick(c, g, { readPreference: 'any' })!.node));
    expect(any).toEqual(new Set([p, r1, r2]));
    r2.state.healthy = false;
    expect(new Set(Array.from({ length: 4 }, () => pick(c, g, {})!.node))).toEqual(new Set([r1]));
    expect(pick(c, g, { exclude: r1 })).toMatchObject({ node: p, fallback: 'every replica is down' });
  });

  it('falls back to the primary when every replica is down, unless told not to', () => {
    const { c, g, p, r1, r2 } = cluster();
    r1.down = true;
    r2.state.healthy = false;
    expect(pick(c, g, {})).toMatchObject({ node: p, reason: 'fallback-primary' });
    expect(() => pick(c, g, { fallbackToPrimary: false })).toThrow(/fallbackToPrimary/);
  });

  it('bounded reads skip replicas that lag too much or whose lag is unknown', () => {
    const { c, g, p, r1, r2 } = cluster();
    r1.state.lagMs = 5000;
    expect(new Set(Array.from({ length: 4 }, () => pick(c, g, { consistency: 'bounded' })!.node))).toEqual(
      new Set([r2]),
    );
    r2.lagKnown = false;
    expect(pick(c, g, { consistency: 'bounded' })).toMatchObject({ node: p, reason: 'bounded-primary' });
    expect(pick(c, g, { consistency: 'bounded', maxLagMs: 10_000 })?.node).toBe(r1);
  });

  it('session reads use replicas known to have replayed the token, else check one on demand', () => {
    const { c, g, r1, r2 } = cluster();
    for (let i = 0; i < 4; i++) {
      expect(pick(c, g, { consistency: 'session', sessionLsn: 800n })).toMatchObject({
        node: r1,
        reason: 'session-caught-up',
      });
    }
    const unsure = pick(c, g, { consistency: 'session', sessionLsn: 2000n })!;
    expect([r1, r2]).toContain(unsure.node);
    expect(unsure.requireLsn).toBe(2000n);
    // No write recorded: any replica.
    expect(pick(c, g, { consistency: 'session' })?.requireLsn).toBeUndefined();
  });
});

describe('writablePrimary', () => {
  it('refuses writes during split brain and while the primary is down', () => {
    const { g, p } = cluster();
    expect(writablePrimary(g)).toBe(p);
    g.splitBrain = ['primary', 'replica-1'];
    expect(() => writablePrimary(g)).toThrow(expect.objectContaining({ code: 'SPLIT_BRAIN' }));
    delete g.splitBrain;
    p.down = true;
    expect(() => writablePrimary(g)).toThrow(expect.objectContaining({ code: 'NO_AVAILABLE_NODE' }));
  });
});
