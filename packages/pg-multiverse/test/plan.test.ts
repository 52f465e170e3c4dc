// One plan per statement: the router plans, the facade composes that plan (cache, metrics, tracing)
// and every router option is reachable from PgMultiverseOptions. Shared topology.
import { createRouter } from '@pg-multiverse/router';
import { uniqueName, waitForReplicas, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { PgMultiverse } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const { config: shared } = inject('pgmTopology');
const US = uniqueName('pu');
const CS = uniqueName('pc');
const config = withSchemas(shared, { users_cluster: [US], commerce_cluster: [CS] });
let admin: pg.Pool;

beforeAll(async () => {
  admin = new pg.Pool(shared.users_cluster!.primary as pg.PoolConfig);
  await admin.query(
    `CREATE SCHEMA ${US}; CREATE TABLE ${US}.counter (n int NOT NULL); INSERT INTO ${US}.counter VALUES (0);
     CREATE FUNCTION ${US}.bump() RETURNS int LANGUAGE sql AS 'UPDATE ${US}.counter SET n = n + 1 RETURNING n'`,
  );
  // The replicas must know the function before a read could be sent there.
  await waitForReplicas(shared.users_cluster!);
});
afterAll(async () => {
  await admin.end();
});

describe('router.plan / router.execute', () => {
  it('a plan says what the router decided; execute runs it; a foreign plan is refused', async () => {
    const router = createRouter(config);
    const other = createRouter(config);
    try {
      const read = router.plan('SELECT n FROM counter', { schema: US, consistency: 'strong' });
      expect(read).toMatchObject({
        kind: 'read',
        clusterId: 'users_cluster',
        group: 'users_cluster',
        schema: US,
        consistency: 'strong',
        freshness: { level: 'primary' },
        readOrigin: false,
        cacheStrategy: undefined,
      });
      const r = await router.execute<{ n: number }>(read, []);
      expect(r.route.role).toBe('primary');
      expect(r.rows).toHaveLength(1);
      const update = router.plan('UPDATE counter SET n = n FROM other_t', { schema: US });
      expect(update.kind).toBe('write');
      expect(update.tables).toMatchObject({ read: ['other_t'], written: ['counter'] });
      expect(router.plan('SELECT 1', { schema: US, consistency: 'eventual' }).freshness).toEqual({ level: 'any' });
      expect(router.plan('SELECT 1', { schema: US, consistency: 'bounded', maxLagMs: 250 }).freshness).toEqual({
        level: 'bounded',
        maxLagMs: 250,
      });
      const origin = await router.execute(router.plan('SELECT 1', { schema: US, readOrigin: true }), []);
      expect(origin.route.origin?.role).toMatch(/^(primary|replica)$/);
      expect(origin.route.origin?.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      const plain = router.plan('SELECT 1', { schema: US });
      expect((await router.execute(plain, [])).route.origin).toBeUndefined();
      const late = await router.execute(plain, [], { readOrigin: true });
      expect(late.route.origin?.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
      router.registerSchema(US, 'users_cluster', { cacheStrategy: 'aggressive' });
      expect(router.plan('SELECT 1', { schema: US }).cacheStrategy).toBe('aggressive');
      await expect(other.execute(read, [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      await expect(router.execute({ ...read } as typeof read, [])).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect(() => router.plan('SELECT 1', { schema: 'nope' })).toThrow(/Unknown schema "nope"/);
    } finally {
      await router.close();
      await other.close();
    }
  });
});

describe('router options through the facade', () => {
  it('writeFunctions: SELECT bump() is routed as a write (primary), and the cache is not used for it', async () => {
    const plain = new PgMultiverse();
    const withFns = new PgMultiverse({ writeFunctions: [`${US}.bump`, 'bump'] });
    await plain.initialize(config);
    await withFns.initialize(config);
    try {
      const kinds: string[] = [];
      withFns.on('queryExecuted', (e) => kinds.push(`${e.kind}/${e.role}`));
      const r = await withFns.query<{ bump: number }>('SELECT bump()', [], { schema: US });
      expect(r.rows[0]!.bump).toBeGreaterThan(0);
      expect(kinds).toEqual(['write/primary']);
      // Without the option the same call is a read: a replica refuses the UPDATE inside.
      await expect(plain.query('SELECT bump()', [], { schema: US, role: 'replica' })).rejects.toMatchObject({
        sqlState: '25006',
      });
    } finally {
      await plain.close();
      await withFns.close();
    }
  });

  it('defaultCluster: a query without a schema goes there', async () => {
    const pgm = new PgMultiverse({ defaultCluster: 'commerce_cluster' });
    await pgm.initialize(config);
    try {
      const seen: string[] = [];
      pgm.on('queryExecuted', (e) => seen.push(e.clusterId));
      await pgm.query('SELECT 1');
      expect(seen).toEqual(['commerce_cluster']);
    } finally {
      await pgm.close();
    }
    await expect(new PgMultiverse({ defaultCluster: 'nope' }).initialize(config)).rejects.toMatchObject({
      code: 'UNKNOWN_CLUSTER',
    });
  });
});
