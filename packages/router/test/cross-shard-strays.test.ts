// Fan-outs while a shard holds stray rows (a partition move copied a partition to it and the map
// records `strays`): every keyless read and write runs on the owners' rows only, as a plain
// (unsharded) oracle table with the same rows says. The tests run in order.
import { type ClusterConfiguration, isPgmError, type NodeConfig } from '@pg-multiverse/core';
import { startTopology, type Topology, uniqueName } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, hashShard, type Router } from '../src/index.js';

const PARTITIONS = 4;
const SEED = '8816678312871386365';
let topo: Topology;
const schema = uniqueName('strays');
const cid = uniqueName('sc');
let r: Router;

const server = (s: 's0' | 's1') => topo.cluster(s).primary;

function node(cluster: 's0' | 's1'): NodeConfig {
  const { id: _id, ...conn } = topo.config[cluster]!.primary as unknown as { id?: string } & Record<string, unknown>;
  return conn as NodeConfig;
}

/** The same statement on the oracle: one plain table holding every row once. */
const oracle = (sql: string) => server('s0').query(sql.replaceAll(`${schema}.items`, `${schema}_oracle.items`));

beforeAll(async () => {
  topo = await startTopology({ clusters: { s0: {}, s1: {} } });
  for (const s of ['s0', 's1'] as const) {
    await server(s).query(
      `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.items (user_id int8 NOT NULL, v int NOT NULL)`,
    );
  }
  await server('s0').query(
    `CREATE SCHEMA ${schema}_oracle; CREATE TABLE ${schema}_oracle.items (user_id int8 NOT NULL, v int NOT NULL)`,
  );
  const cfg = {
    [cid]: {
      schemas: [schema],
      primary: node('s0'),
      sharding: {
        strategy: 'hash',
        key: 'user_id',
        partitions: PARTITIONS,
        keyType: 'int8',
        shards: [
          { id: 'shard-0', primary: node('s0'), partitions: [0, 1] },
          { id: 'shard-1', primary: node('s1'), partitions: [2, 3] },
        ],
      },
    },
  } as ClusterConfiguration;
  r = createRouter(cfg, { monitor: { healthCheckInterval: 500 } });
  await r.start();
  await r.installPartitionGuards(cid);
  for (let k = 1; k <= 40; k++) {
    await r.query(`INSERT INTO ${schema}.items (user_id, v) VALUES ($1, $2)`, [k, k * 3], { schema, shardKey: k });
    await oracle(`INSERT INTO ${schema}.items (user_id, v) VALUES (${k}, ${k * 3})`);
  }
  // What a move of partition 1 to shard-1 leaves between its copy and its cleanup: the rows on both.
  const p1 = await server('s0').query(
    `SELECT user_id, v FROM ${schema}.items WHERE pgm_sharding.partition_of(hashint8extended(user_id, ${SEED}), ${PARTITIONS}) = 1`,
  );
  expect(p1.rows.length).toBeGreaterThan(0);
  const values = (p1.rows as Array<{ user_id: string; v: number }>).map((x) => `(${x.user_id}, ${x.v})`).join(', ');
  await server('s1').query(
    `BEGIN; SET LOCAL pgm.partition_guard = 'off'; INSERT INTO ${schema}.items (user_id, v) VALUES ${values}; COMMIT`,
  );
  await r.updatePartitionStrays(cid, 'shard-1', { add: [1] });
});

afterAll(async () => {
  await r?.close();
  await topo?.stop();
});

const keyOf = (p: number) =>
  [...Array(40).keys()].map((i) => i + 1).find((x) => hashShard(x, PARTITIONS, 'int8') === p)!;

const q = <R>(sql: string, params?: unknown[]) => r.query<R>(sql, params, { schema });

describe('cross-shard statements while a shard holds stray rows', () => {
  it('the map records the strays: shard-1 is filtered, shard-0 is not', () => {
    expect(r.partitionFilter(cid, 'shard-1')?.partitions).toEqual([2, 3]);
    expect(r.partitionFilter(cid, 'shard-0')).toBeUndefined();
  });

  it('keyless count, sum, ORDER BY LIMIT and GROUP BY return exactly what the oracle says', async () => {
    const reads = [
      `SELECT count(*) AS n FROM ${schema}.items`,
      `SELECT sum(v) AS s, count(*) AS n FROM ${schema}.items WHERE v > 10`,
      `SELECT user_id::int AS k, v FROM ${schema}.items ORDER BY v DESC LIMIT 5`,
      `SELECT v % 3 AS g, count(*) AS n, sum(v) AS s FROM ${schema}.items i GROUP BY v % 3 ORDER BY g`,
      `SELECT user_id::int AS k FROM ${schema}.items AS i WHERE i.v BETWEEN 30 AND 60 ORDER BY k`,
      // Keys of a stray partition (1, owned by shard-0) and of shard-1's own: both shards, shard-1 filtered.
      `SELECT count(*) AS n, sum(v) AS s FROM ${schema}.items WHERE user_id IN (${keyOf(1)}, ${keyOf(2)})`,
    ];
    for (const sql of reads) {
      const got = await q(sql);
      expect(got.route.reason).toBe('cross-shard');
      const text = (rows: unknown[]) => JSON.stringify(rows, (_k, v) => (typeof v === 'number' ? String(v) : v));
      expect(text(got.rows), sql).toBe(text((await oracle(sql)).rows));
    }
    // Counted on the servers: shard-1 does hold more rows than it owns (the read would be wrong unfiltered).
    const raw = await server('s1').query(`SELECT count(*)::int AS n FROM ${schema}.items`);
    const owned = (await oracle(`SELECT user_id FROM ${schema}.items`)).rows.filter(
      (x) => hashShard(Number((x as { user_id: string }).user_id), PARTITIONS, 'int8') >= 2,
    ).length;
    expect((raw.rows[0] as { n: number }).n).toBeGreaterThan(owned);
  });

  it('a keyed read of a stray partition goes to its owner alone, unfiltered', async () => {
    const k = keyOf(1);
    const got = await r.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${schema}.items WHERE user_id = $1`, [k], {
      schema,
    });
    expect(got.route.shardId).toBe('shard-0');
    expect(got.rows[0]!.n).toBe(1);
  });

  it('a read that cannot be filtered per table is refused loudly, naming why', async () => {
    const err = await q(`SELECT count(*) FROM ${schema}.items a JOIN ${schema}.items b ON a.user_id = b.user_id`).catch(
      (e) => e,
    );
    expect(isPgmError(err) && err.code).toBe('CROSS_SHARD_UNSUPPORTED');
    expect(err.message).toMatch(/a join while shard "shard-1" holds stray rows of a partition move/);
  });

  it('keyless UPDATE and DELETE write the owners rows only (the guard would refuse a stray)', async () => {
    const run = async (sql: string) => {
      const plan = r.plan(sql, { schema });
      const writes = r.shardWrites(plan, []);
      expect(writes.find((w) => w.shardId === 'shard-0')!.sql).toBe(sql);
      expect(writes.find((w) => w.shardId === 'shard-1')!.sql).not.toBe(sql);
      let n = 0;
      for (const w of writes) {
        const res = await server(w.shardId === 'shard-0' ? 's0' : 's1').query(w.sql, [...w.params]);
        n += res.rowCount ?? 0;
      }
      expect(n, sql).toBe((await oracle(sql)).rowCount);
    };
    await run(`UPDATE ${schema}.items SET v = v + 1000 WHERE v % 2 = 0`);
    await run(`DELETE FROM ${schema}.items WHERE v < 30 OR v > 1100`);
    await run(`UPDATE ${schema}.items SET v = v + 1`);
    await run(`UPDATE ${schema}.items SET v = v + 5 WHERE user_id IN (${keyOf(1)}, ${keyOf(3)})`);
    const check = `SELECT user_id::int AS k, v FROM ${schema}.items ORDER BY k`;
    expect((await q(check)).rows).toEqual((await oracle(check)).rows);
    // The stray copies on shard-1 were left alone (a move's replication and cleanup own them).
    const strays = await server('s1').query(
      `SELECT count(*)::int AS n FROM ${schema}.items WHERE v < 30 AND pgm_sharding.partition_of(hashint8extended(user_id, ${SEED}), ${PARTITIONS}) = 1`,
    );
    expect((strays.rows[0] as { n: number }).n).toBeGreaterThan(0);
  });
});
