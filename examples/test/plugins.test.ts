import { describe, expect, inject, it } from 'vitest';
import { run as standalone } from '../balancer-standalone.js';
import { run as customBalancer } from '../custom-balancer.js';
import { run as customStore } from '../custom-cache-store.js';

const { config } = inject('pgmTopology');

describe('plug-ins', () => {
  it('a custom balancer object drives the facade', async () => {
    const served = await customBalancer(config);
    const total = Object.values(served).reduce((a, b) => a + b, 0);
    expect(total).toBe(20);
    for (const id of Object.keys(served)) expect(id).toMatch(/^replica-/);
  });

  it('a custom cache store serves the second read', async () => {
    const r = await customStore(config);
    expect(r.b).toEqual(r.a);
    expect(r.calls.set).toBe(1);
    expect(r.metrics?.hits).toBe(1);
  });

  it('the balancer package works alone over plain pg.Pools', async () => {
    const replicas = (config.users_cluster!.replicas ?? []).map((n, i) => {
      const c = n as { host: string; port: number; user?: string; database?: string };
      return { id: `r${i + 1}`, host: c.host, port: c.port, user: c.user, database: c.database };
    });
    const served = await standalone(replicas);
    expect(Object.values(served).reduce((a, b) => a + b, 0)).toBe(40);
    expect(Object.keys(served).sort()).toEqual(['r1', 'r2']);
  });
});
