import { uniqueName } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRouter, hashShard, type Router } from '../src/index.js';

const ctx = inject('pgmTopology');
const schema = uniqueName('rt_shard');
// Two real servers act as two shards: the primaries of the shared topology's clusters.
const { id: _a, ...shardA } = ctx.config.users_cluster!.primary;
const { id: _b, ...shardB } = ctx.config.commerce_cluster!.primary;
const portOf = {
  'shard-0': ctx.clusters.users_cluster!.primary.serverPort,
  'shard-1': ctx.clusters.commerce_cluster!.primary.serverPort,
};

let router: Router;

beforeAll(async () => {
  router = createRouter({
    orders_cluster: {
      schemas: [schema],
      primary: shardA,
      sharding: { strategy: 'hash', key: 'user_id', partitions: 4, shards: [{ primary: shardA }, { primary: shardB }] },
    },
    plain: { schemas: [uniqueName('rt_plain')], primary: shardB },
  });
  for (const p of router.primaries('orders_cluster')) {
    await p.query(`CREATE SCHEMA ${schema}`);
    await p.query(`CREATE TABLE ${schema}.orders (user_id int8, total int)`);
  }
});

afterAll(async () => {
  await router?.close();
});

describe('sharding', () => {
  it('routes by shard key: partition p lives on shards[p % shards.length]', async () => {
    const seenShards = new Set<string>();
    for (let userId = 1; userId <= 24; userId++) {
      const w = await router.query<{ port: number }>(
        'INSERT INTO orders VALUES ($1, 10) RETURNING inet_server_port() AS port',
        [userId],
        { schema, shardKey: userId },
      );
      const partition = hashShard(userId, 4, 'int8');
      const shardId = `shard-${partition % 2}` as 'shard-0' | 'shard-1';
      expect(w.route.shardId).toBe(shardId);
      expect(w.rows[0]?.port).toBe(portOf[shardId]);
      expect(router.shardFor('orders_cluster', userId)).toEqual({ partition, shardId });
      seenShards.add(shardId);
    }
    expect(seenShards.size).toBe(2);
    // Each user's rows are where its key says, and only there.
    for (let userId = 1; userId <= 24; userId++) {
      const r = await router.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM orders WHERE user_id = $1',
        [userId],
        {
          schema,
          shardKey: userId,
        },
      );
      expect(r.rows[0]?.n).toBe(1);
    }
  });

  it('finds the shard key in the SQL: parameters, literals, aliases, joins, subqueries, CTEs', async () => {
    const shardOf = (k: number) => `shard-${hashShard(k, 4, 'int8') % 2}`;
    for (let userId = 1; userId <= 12; userId++) {
      const cases: Array<[string, unknown[]]> = [
        ['SELECT count(*)::int AS n, inet_server_port() AS port FROM orders WHERE user_id = $1', [userId]],
        [`SELECT count(*)::int AS n, inet_server_port() AS port FROM orders o WHERE o.user_id = ${userId}`, []],
        [
          `SELECT count(*)::int AS n, inet_server_port() AS port FROM ${schema}.orders WHERE total > 0 AND orders.user_id = $1`,
          [userId],
        ],
        [
          'WITH mine AS (SELECT * FROM orders WHERE user_id = $1) SELECT count(*)::int AS n, inet_server_port() AS port FROM mine',
          [userId],
        ],
        [
          'SELECT count(*)::int AS n, inet_server_port() AS port FROM (SELECT * FROM orders a JOIN orders b USING (user_id) WHERE a.user_id = $1) s',
          [userId],
        ],
      ];
      for (const [sql, params] of cases) {
        const plan = router.plan(sql, { schema }, params);
        expect(plan.crossShard).toBe(false);
        expect(plan.shardIds).toEqual([shardOf(userId)]);
        expect(plan.partitions).toEqual([hashShard(userId, 4, 'int8')]);
        const r = await router.query<{ n: number; port: number }>(sql, params, { schema });
        expect(r.rows[0]).toEqual({ n: 1, port: portOf[shardOf(userId) as 'shard-0' | 'shard-1'] });
        expect(r.route.shardId).toBe(shardOf(userId));
      }
    }
    // an explicit shardKey wins over the SQL
    const k = [1, 2, 3, 4, 5].find((x) => shardOf(x) !== shardOf(1))!;
    expect(router.plan('SELECT * FROM orders WHERE user_id = $1', { schema, shardKey: k }, [1]).shardIds).toEqual([
      shardOf(k),
    ]);
    // one-row INSERT: routed by its VALUES
    const ins = await router.query<{ port: number }>(
      'INSERT INTO orders (user_id, total) VALUES ($1, 0) RETURNING inet_server_port() AS port',
      [1000],
      { schema },
    );
    expect(ins.rows[0]!.port).toBe(portOf[shardOf(1000) as 'shard-0' | 'shard-1']);
    await router.query('DELETE FROM orders WHERE user_id = $1', [1000], { schema });
  });

  it('a statement whose key cannot be determined concerns every shard (never a guess)', () => {
    for (const sql of [
      'SELECT count(*) FROM orders',
      'SELECT * FROM orders WHERE user_id = $1 OR total > 3',
      'SELECT * FROM orders WHERE user_id > $1',
      'SELECT * FROM orders WHERE user_id IN (SELECT user_id FROM orders WHERE total = 1)',
    ]) {
      const plan = router.plan(sql, { schema }, [1]);
      expect(plan.crossShard).toBe(true);
      expect(plan.shardIds).toEqual(['shard-0', 'shard-1']);
      expect(plan.partitions).toBeUndefined();
    }
    // keys on both shards: cross-shard over those partitions; without params, a `$n` key is unknown
    const a = [1, 2, 3, 4, 5, 6].filter((x) => hashShard(x, 4, 'int8') % 2 === 0)[0]!;
    const b = [1, 2, 3, 4, 5, 6].filter((x) => hashShard(x, 4, 'int8') % 2 === 1)[0]!;
    const both = router.plan('SELECT * FROM orders WHERE user_id IN ($1, $2)', { schema }, [a, b]);
    expect(both.crossShard).toBe(true);
    expect(both.partitions).toEqual([hashShard(a, 4, 'int8'), hashShard(b, 4, 'int8')].sort());
    expect(router.plan('SELECT * FROM orders WHERE user_id = $1', { schema }).crossShard).toBe(true);
    // a shard is still needed where one must be named
    expect(() => router.primary('orders_cluster')).toThrow(/shardKey/);
  });

  it('shardPrimary(clusterId, shardId) reaches one listed shard; unknown ids are named', async () => {
    for (const id of ['shard-0', 'shard-1'] as const) {
      const r = await router
        .shardPrimary('orders_cluster', id)
        .query<{ port: number }>('SELECT inet_server_port() AS port');
      expect(r.rows[0]!.port).toBe(portOf[id]);
    }
    expect(() => router.shardPrimary('orders_cluster', 'shard-9')).toThrow(/no shard "shard-9".*shard-0, shard-1/);
    expect(() => router.shardPrimary('plain', 'shard-0')).toThrow(/not sharded over listed servers/);
    expect(router.primary('orders_cluster', 3).id).toMatch(/^orders_cluster\/shard-[01]\/primary$/);
  });

  it('accepts a custom shard function and checks what it returns', async () => {
    const custom = createRouter({
      c: {
        schemas: [schema],
        primary: shardA,
        sharding: {
          strategy: 'hash',
          key: 'user_id',
          partitions: 2,
          shards: [{ primary: shardA }, { primary: shardB }],
          shardFunction: (key) => (String(key).startsWith('eu-') ? 0 : 1),
        },
      },
      bad: {
        schemas: [uniqueName('rt_bad')],
        primary: shardA,
        sharding: { strategy: 'hash', key: 'k', partitions: 2, shardFunction: () => 7 },
      },
    });
    try {
      const eu = await custom.query<{ port: number }>('SELECT inet_server_port() AS port', [], {
        schema,
        shardKey: 'eu-42',
      });
      expect(eu.rows[0]?.port).toBe(portOf['shard-0']);
      const us = await custom.query<{ port: number }>('SELECT inet_server_port() AS port', [], {
        schema,
        shardKey: 'us-42',
      });
      expect(us.rows[0]?.port).toBe(portOf['shard-1']);
      // the key found in the SQL goes through the shard function too (integer literals as numbers)
      expect(custom.plan("SELECT * FROM t WHERE user_id = 'eu-7'", { schema }).shardIds).toEqual(['shard-0']);
      expect(custom.plan('SELECT * FROM t WHERE user_id = $1', { schema }, ['us-7']).shardIds).toEqual(['shard-1']);
      await expect(custom.query('SELECT 1', [], { clusterId: 'bad', shardKey: 1 })).rejects.toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
    } finally {
      await custom.close();
    }
  });

  it('without listed shards, the cluster nodes hold every partition', async () => {
    const r = createRouter({
      one: { schemas: [schema], primary: shardB, sharding: { strategy: 'hash', key: 'user_id', partitions: 8 } },
    });
    try {
      const res = await r.query<{ port: number }>('SELECT inet_server_port() AS port', [], { schema, shardKey: 5 });
      expect(res.rows[0]?.port).toBe(portOf['shard-1']);
      expect(r.shardFor('one', 5).partition).toBe(hashShard(5, 8));
    } finally {
      await r.close();
    }
  });
});
