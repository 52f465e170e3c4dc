import type { ClusterConfiguration } from '@pg-multiverse/core';
import { hashShard, type QueryExecutedEvent } from '@pg-multiverse/router';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';

// The facade on a cluster sharded over two servers: query() finds the key in the SQL, runs
// cross-shard reads, caches them as one entry that a write on any shard invalidates, and reports
// them (queryExecuted with shardIds, per-node and cross-shard metrics).
const topo = inject('pgmTopology');
const { id: _a, ...serverA } = topo.config.users_cluster!.primary;
const { id: _b, ...serverB } = topo.config.commerce_cluster!.primary;
const schema = uniqueName('fxs');
const admin = [new pg.Pool({ ...serverA, max: 1 }), new pg.Pool({ ...serverB, max: 1 })];
const config: ClusterConfiguration = {
  orders_cluster: {
    schemas: [schema],
    primary: serverA,
    sharding: { strategy: 'hash', key: 'user_id', partitions: 4, shards: [{ primary: serverA }, { primary: serverB }] },
  },
};
const keyOn = (shard: 0 | 1, from = 1): number => {
  let k = from;
  while (hashShard(k, 4, 'int8') % 2 !== shard) k++;
  return k;
};

let pgm: PgMultiverse;
const events: QueryExecutedEvent[] = [];
const spans: Array<Record<string, unknown>> = [];
const tracer = {
  startSpan(_name: string, o: { attributes?: Record<string, unknown> }) {
    const attrs: Record<string, unknown> = { ...o.attributes };
    spans.push(attrs);
    return {
      setAttribute: (k: string, v: unknown) => {
        attrs[k] = v;
      },
      end: () => undefined,
    };
  },
};

beforeAll(async () => {
  for (const p of admin)
    await p.query(`CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.orders (user_id int8, total int)`);
  pgm = new PgMultiverse({ enableCache: true, enableMetrics: true, tracer: tracer as never });
  await pgm.initialize(config);
  pgm.on('queryExecuted', (e) => events.push(e));
  for (let u = 1; u <= 20; u++)
    await pgm.query('INSERT INTO orders (user_id, total) VALUES ($1, $2)', [u, u * 10], { schema });
});

afterAll(async () => {
  await pgm?.close();
  for (const p of admin) {
    await p.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await p.end();
  }
});

describe('facade: sharded query() without a shardKey', () => {
  it('routes by the key in the SQL and merges cross-shard reads', async () => {
    for (const shard of [0, 1] as const) {
      const k = keyOn(shard);
      const r = await pgm.query<{ total: number }>('SELECT total FROM orders WHERE user_id = $1', [k], { schema });
      expect(r.rows).toEqual([{ total: k * 10 }]);
      expect((r as unknown as { route: { shardId: string } }).route.shardId).toBe(`shard-${shard}`);
    }
    const all = await pgm.query<{ n: string; s: string }>('SELECT count(*) AS n, sum(total) AS s FROM orders', [], {
      schema,
    });
    expect(all.rows).toEqual([{ n: '20', s: String(10 * 210) }]);
    const top = await pgm.query<{ user_id: string }>(
      'SELECT user_id, total FROM orders ORDER BY total DESC LIMIT 3',
      [],
      {
        schema,
      },
    );
    expect(top.rows.map((r) => Number(r.user_id))).toEqual([20, 19, 18]);
  });

  it('a cross-shard read caches as one entry; a write on any shard invalidates it', async () => {
    const sql = 'SELECT count(*)::int AS n FROM orders';
    const first = await pgm.query<{ n: number }>(sql, [], { schema, cache: true });
    const again = await pgm.query<{ n: number }>(sql, [], { schema, cache: true });
    expect(again.rows).toEqual(first.rows);
    const before = pgm.getMetrics().clusters.orders_cluster!.queries.cached;
    await pgm.query(sql, [], { schema, cache: true });
    expect(pgm.getMetrics().clusters.orders_cluster!.queries.cached).toBe(before + 1);
    // a write on shard-1 only (key in the SQL) invalidates the cross-shard entry
    const k = keyOn(1, 100);
    await pgm.query('INSERT INTO orders (user_id, total) VALUES ($1, 1)', [k], { schema });
    const after = await pgm.query<{ n: number }>(sql, [], { schema, cache: true });
    expect(after.rows[0]!.n).toBe(first.rows[0]!.n + 1);
    await pgm.query('DELETE FROM orders WHERE user_id = $1', [k], { schema });
    expect((await pgm.query<{ n: number }>(sql, [], { schema, cache: true })).rows[0]!.n).toBe(first.rows[0]!.n);
  });

  it('allowPartial results are marked and never cached', async () => {
    await admin[0]!.query(`CREATE TABLE ${schema}.half (v int); INSERT INTO ${schema}.half VALUES (1)`);
    const err = await pgm.query('SELECT v FROM half', [], { schema, cache: true }).catch((e) => e);
    expect(err.code).toBe('QUERY_FAILED');
    const r = await pgm.query('SELECT v FROM half', [], { schema, cache: true, allowPartial: true });
    const route = (r as unknown as { route: { partial?: boolean; failedShards?: string[] } }).route;
    expect(route).toMatchObject({ partial: true, failedShards: ['shard-1'] });
    await admin[1]!.query(`CREATE TABLE ${schema}.half (v int); INSERT INTO ${schema}.half VALUES (2)`);
    const full = await pgm.query<{ v: number }>('SELECT v FROM half ORDER BY v', [], {
      schema,
      cache: true,
      allowPartial: true,
    });
    expect(full.rows).toEqual([{ v: 1 }, { v: 2 }]);
  });

  it('one queryExecuted per cross-shard statement with every shard and node; metrics count it', async () => {
    events.length = 0;
    const m0 = pgm.getMetrics().clusters.orders_cluster!;
    await pgm.query('SELECT max(total) FROM orders', [], { schema });
    const e = events.filter((x) => x.sql === 'SELECT max(total) FROM orders');
    expect(e).toHaveLength(1);
    expect(e[0]).toMatchObject({ reason: 'cross-shard', shardIds: ['shard-0', 'shard-1'], ok: true });
    expect(e[0]!.nodeIds).toEqual(['shard-0/primary', 'shard-1/primary']);
    const m1 = pgm.getMetrics().clusters.orders_cluster!;
    expect(m1.queries.crossShard).toBe(m0.queries.crossShard + 1);
    expect(m1.nodes['shard-1/primary']!.queries).toBe(m0.nodes['shard-1/primary']!.queries + 1);
    expect(pgm.getMetrics().clusters.orders_cluster).toBeDefined();
    expect(spans.find((x) => x['db.query.text'] === 'SELECT max(total) FROM orders')).toMatchObject({
      'pgm.shards': 'shard-0,shard-1',
    });
    const refused = await pgm.query('SELECT array_agg(total) FROM orders', [], { schema }).catch((x) => x);
    expect(refused.code).toBe('CROSS_SHARD_UNSUPPORTED');
  });
});
