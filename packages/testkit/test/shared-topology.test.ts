import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { uniqueName, withSchemas } from '../src/index.js';

describe('shared topology from the global setup', () => {
  it('provides both clusters, reachable through their proxies, with redis', async () => {
    const ctx = inject('pgmTopology');
    expect(Object.keys(ctx.config).sort()).toEqual(['commerce_cluster', 'users_cluster']);
    expect(ctx.config.users_cluster!.replicas).toHaveLength(2);
    expect(ctx.config.commerce_cluster!.replicas).toHaveLength(0);
    expect(ctx.config.users_cluster!.schemas).toEqual(['users', 'auth', 'profiles']);
    expect(ctx.redisUrl).toMatch(/^redis:\/\/127\.0\.0\.1:\d+$/);
    const u = ctx.config.users_cluster!;
    for (const node of [u.primary, ...u.replicas]) {
      const c = new pg.Client(node);
      await c.connect();
      const r = await c.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec');
      await c.end();
      expect(r.rows[0]!.rec).toBe(node.id !== 'primary');
    }
    expect(ctx.clusters.users_cluster!.primary.port).toBe(u.primary.port);
    expect(ctx.clusters.users_cluster!.primary.serverPort).not.toBe(u.primary.port);
  });

  it('withSchemas gives a test its own schemas and drops other clusters', () => {
    const { config } = inject('pgmTopology');
    const name = uniqueName('wS');
    const mine = withSchemas(config, { users_cluster: [name] });
    expect(Object.keys(mine)).toEqual(['users_cluster']);
    expect(mine.users_cluster!.schemas).toEqual([name]);
    expect(config.users_cluster!.schemas).toEqual(['users', 'auth', 'profiles']);
    mine.users_cluster!.primary.port = 1;
    expect(config.users_cluster!.primary.port).not.toBe(1);
    expect(() => withSchemas(config, { nope: ['x'] } as never)).toThrow(/unknown cluster "nope"/);
  });

  it('uniqueName is a valid, distinct, lower-case identifier', () => {
    const a = uniqueName('My-Test');
    const b = uniqueName('My-Test');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^my_test_[a-z0-9_]+$/);
    expect(uniqueName('x'.repeat(100)).length).toBeLessThanOrEqual(63);
  });
});
