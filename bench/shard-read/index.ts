// Sharded reads (issue 16, read side), every figure against a baseline measured in the same run,
// interleaved rounds (order swapped every pair), medians with the spread of per-pair ratios:
//  1. cross-shard `SELECT id, v FROM items ORDER BY v LIMIT 100` through the router over 4 shard
//     servers (4 partitions, one per server; each shard runs LIMIT 100, the router merges) vs the
//     same query with raw pg.Pool on one server holding all rows;
//  2. key-routed point reads `SELECT v FROM items WHERE id = $1` (key found in the SQL) through the
//     router on a sharded cluster vs the router on an unsharded cluster, the same table on the same
//     server (only routing differs); target >= 0.95; client CPU per read too; raw pg.Pool for reference.
//     Like with like: both routers send their reads over the same number of connections to that
//     server (16), one statement per connection, no pool ever waiting. Earlier versions gave every
//     shard a pool of 16 and random keys: the sharded router then kept about 46 connections (4 pools,
//     each grown to its own peak) against the unsharded 16, and the connections only a shard's peak
//     used idled out and were opened again during measured rounds; a per-read cost of the pools,
//     not of routing. Now each worker reads the keys of one partition (worker w: partition w % 4),
//     each shard's pool holds 4, and the unsharded router reads the very same keys.
// Nodes are reached directly (no testkit proxy).
//   node --import tsx bench/shard-read/index.ts
import { toPgPoolConfig, validateConfiguration } from '@pg-multiverse/core';
import { createRouter, hashShard, type Router } from '@pg-multiverse/router';
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { type Figures, measure, median, paired, round2, summarize } from '../lib/load.js';

const ROUND_MS = Number(process.env.ROUND_MS ?? 1500);
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const ROWS = Number(process.env.ROWS ?? 100_000);
const POOL_MAX = 8;

async function pairs(
  rounds: number,
  concurrency: number,
  a: (i: number) => Promise<unknown>,
  b: (i: number) => Promise<unknown>,
): Promise<{ a: Figures[]; b: Figures[] }> {
  const out = { a: [] as Figures[], b: [] as Figures[] };
  const run = (op: (i: number) => Promise<unknown>) => measure(op, { concurrency, roundMs: ROUND_MS });
  await run(a); // warm-up
  await run(b);
  for (let k = 0; k < rounds; k++) {
    if (k % 2 === 0) {
      out.a.push(await run(a));
      out.b.push(await run(b));
    } else {
      out.b.push(await run(b));
      out.a.push(await run(a));
    }
    console.error(`round ${k + 1}: ${Math.round(out.a[k]!.qps)} vs ${Math.round(out.b[k]!.qps)} qps`);
  }
  return out;
}

function ratios(a: readonly Figures[], b: readonly Figures[]) {
  const r = b.map((x, i) => x.qps / a[i]!.qps);
  return { ratio: round2(median(r)), ratio_min: round2(Math.min(...r)), ratio_max: round2(Math.max(...r)) };
}

const SHARDS = ['s0', 's1', 's2', 's3'] as const;
const topo = await startTopology({
  clusters: Object.fromEntries(SHARDS.map((s) => [s, { replicas: 0, schemas: ['app'] }])),
  settings: { max_connections: 100 },
});
const routers: Router[] = [];
const raws: pg.Pool[] = [];
try {
  const servers = SHARDS.map((s) => topo.cluster(s).primary);
  const direct = (h: (typeof servers)[number]) => ({ ...h.connection, port: h.serverPort });
  const ddl = (schema: string) =>
    `CREATE SCHEMA IF NOT EXISTS ${schema}; CREATE TABLE ${schema}.items (id int8 PRIMARY KEY, v int NOT NULL, payload text); CREATE INDEX ON ${schema}.items (v)`;
  // rows: id 1..ROWS, v pseudo-random; each on the server of its partition (4 partitions, 4 servers)
  const ids: bigint[][] = SHARDS.map(() => []);
  const vs: number[][] = SHARDS.map(() => []);
  let seed = 16;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed;
  };
  const allIds: bigint[] = [];
  const allVs: number[] = [];
  for (let id = 1; id <= ROWS; id++) {
    const v = rand() % 1_000_000;
    const p = hashShard(id, 4, 'int8');
    ids[p]!.push(BigInt(id));
    vs[p]!.push(v);
    allIds.push(BigInt(id));
    allVs.push(v);
  }
  const fill = (schema: string, i: bigint[], v: number[]) =>
    `INSERT INTO ${schema}.items SELECT id, v, repeat('x', 40) FROM unnest('{${i.join(',')}}'::int8[], '{${v.join(',')}}'::int[]) AS u(id, v); ANALYZE ${schema}.items`;
  for (const [k, h] of servers.entries()) {
    await h.query(ddl('app'));
    await h.query(fill('app', ids[k]!, vs[k]!));
  }
  await servers[0]!.query(ddl('allrows'));
  await servers[0]!.query(fill('allrows', allIds, allVs));

  const sharded = createRouter(
    {
      sharded: {
        schemas: ['app'],
        primary: direct(servers[0]!),
        sharding: {
          strategy: 'hash',
          key: 'id',
          keyType: 'int8',
          partitions: 4,
          shards: servers.map((h) => ({ primary: direct(h) })),
        },
      },
    },
    { connectionPool: { max: POOL_MAX } },
  );
  routers.push(sharded);
  await Promise.all(routers.map((r) => r.start()));
  const node = validateConfiguration(
    { b: { schemas: ['allrows'], primary: direct(servers[0]!) } },
    { connectionPool: { max: POOL_MAX } },
  ).clusters.b!.primary;
  const raw = new pg.Pool(toPgPoolConfig(node) as pg.PoolConfig);
  raw.on('error', () => undefined);
  raws.push(raw);

  // sanity: the merged top 100 equals the one-server top 100
  const TOP = 'SELECT id, v FROM items ORDER BY v, id LIMIT 100';
  const a = await sharded.query(TOP, [], { schema: 'app' });
  const b = await raw.query(TOP.replace('FROM items', 'FROM allrows.items'));
  if (JSON.stringify(a.rows) !== JSON.stringify(b.rows)) throw new Error('cross-shard top 100 differs from one server');
  if (a.route.shardIds?.length !== 4) throw new Error('expected a cross-shard read over 4 shards');

  // 1. cross-shard ORDER BY ... LIMIT 100 vs one server
  const top = await pairs(
    ROUNDS,
    8,
    () => raw.query(TOP.replace('FROM items', 'FROM allrows.items')),
    () => sharded.query(TOP, [], { schema: 'app' }),
  );
  const topFigures = {
    one_server_raw: summarize(top.a),
    four_shards_router: summarize(top.b),
    ...ratios(top.a, top.b),
  };
  console.log(JSON.stringify({ part: 'cross_shard_order_limit_100', concurrency: 8, ...topFigures }));

  // 1b. the same fan-out by hand (4 raw pools, LIMIT 100 each, concatenated and sorted): the physical
  // cost of asking 4 servers, against which the router's own merge is measured
  const shardPools = servers.map((h) => {
    const n = validateConfiguration(
      { b: { schemas: ['app'], primary: direct(h) } },
      { connectionPool: { max: POOL_MAX } },
    ).clusters.b!.primary;
    const p = new pg.Pool(toPgPoolConfig(n) as pg.PoolConfig);
    p.on('error', () => undefined);
    raws.push(p);
    return p;
  });
  const byHand = async () => {
    const parts = await Promise.all(shardPools.map((p) => p.query(TOP.replace('FROM items', 'FROM app.items'))));
    const rows = parts.flatMap((r) => r.rows as Array<{ id: string; v: number }>);
    rows.sort((x, y) => x.v - y.v || Number(BigInt(x.id) - BigInt(y.id)));
    return rows.slice(0, 100);
  };
  const fan = await pairs(ROUNDS, 8, byHand, () => sharded.query(TOP, [], { schema: 'app' }));
  const fanFigures = { raw_fanout_by_hand: summarize(fan.a), router: summarize(fan.b), ...ratios(fan.a, fan.b) };
  console.log(JSON.stringify({ part: 'cross_shard_router_vs_raw_fanout', concurrency: 8, ...fanFigures }));

  // 2. key-routed point reads: the routing cost of a sharded cluster. Both routers read the same
  // table on the same server, so only routing differs: the sharded cluster lists that server 4
  // times as 4 shards and finds the key in the SQL; the unsharded one has one pool. The same
  // connections on both sides (see the header): worker w reads keys of partition w % 4, so each
  // shard's pool (max POINT_CONCURRENCY / 4) serves exactly its 4 workers and the server sees
  // POINT_CONCURRENCY connections from either router; the unsharded router and raw pg.Pool read
  // the same keys. Throughput and client CPU per read, paired rounds.
  const POINT_CONCURRENCY = 16;
  const pointUnsharded = createRouter(
    { one: { schemas: ['allrows'], primary: direct(servers[0]!) } },
    { connectionPool: { max: POINT_CONCURRENCY } },
  );
  routers.push(pointUnsharded);
  await pointUnsharded.start();
  const shardedPoint = createRouter(
    {
      sharded: {
        schemas: ['allrows'],
        primary: direct(servers[0]!),
        sharding: {
          strategy: 'hash',
          key: 'id',
          keyType: 'int8',
          partitions: 4,
          // one node id per shard (the testkit's connection says `primary` for each): pool stats per shard
          shards: SHARDS.map((id) => ({ id, primary: { ...direct(servers[0]!), id: `${id}-primary` } })),
          // Its own stored map: the cross-shard router above stored one for cluster "sharded" with other shards.
          partitionMap: { schema: 'pgm_sharding_point' },
        },
      },
    },
    { connectionPool: { max: POINT_CONCURRENCY / SHARDS.length } },
  );
  routers.push(shardedPoint);
  await shardedPoint.start();
  const POINT = 'SELECT v FROM items WHERE id = $1';
  const keysOf = ids.map((xs) => xs.map(Number));
  const key = (i: number, worker: number) => {
    const xs = keysOf[worker % SHARDS.length]!;
    return xs[Math.floor(i / POINT_CONCURRENCY) % xs.length]!;
  };
  const probe = await shardedPoint.query(POINT, [7], { schema: 'allrows' });
  if (probe.route.shardId !== `s${hashShard(7, 4, 'int8')}`) throw new Error('point read not routed by its key');
  const rawPointPool = new pg.Pool({ ...(toPgPoolConfig(node) as pg.PoolConfig), max: POINT_CONCURRENCY });
  rawPointPool.on('error', () => undefined);
  raws.push(rawPointPool);
  const opts = { concurrency: POINT_CONCURRENCY, roundMs: ROUND_MS };
  const unshardedRead = (i: number, w: number) => pointUnsharded.query(POINT, [key(i, w)], { schema: 'allrows' });
  const shardedRead = (i: number, w: number) => shardedPoint.query(POINT, [key(i, w)], { schema: 'allrows' });
  await measure(unshardedRead, opts); // warm-up
  await measure(shardedRead, opts);
  const point = await paired(unshardedRead, shardedRead, { ...opts, pairs: ROUNDS });
  const connections = (r: Router) => Object.values(r.poolStats()).reduce((n, x) => n + x.total, 0);
  const pointConnections = { unsharded: connections(pointUnsharded), sharded: connections(shardedPoint) };
  if (pointConnections.sharded > POINT_CONCURRENCY || pointConnections.unsharded > POINT_CONCURRENCY) {
    throw new Error(`point reads used more than ${POINT_CONCURRENCY} connections: ${JSON.stringify(pointConnections)}`);
  }
  const rawPoint = await paired(
    (i, w) => rawPointPool.query('SELECT v FROM allrows.items WHERE id = $1', [key(i, w)]),
    unshardedRead,
    { ...opts, pairs: Math.max(2, ROUNDS / 2) },
  );
  const cpu = (xs: Array<{ cpuUsPerOp: number }>) => round2(median(xs.map((x) => x.cpuUsPerOp)));
  const pointFigures = {
    unsharded_router: { ...summarize(point.a), cpu_us_per_read: cpu(point.a) },
    sharded_router: { ...summarize(point.b), cpu_us_per_read: cpu(point.b) },
    ratio: round2(median(point.ratios)),
    ratio_min: round2(Math.min(...point.ratios)),
    ratio_max: round2(Math.max(...point.ratios)),
    cpu_ratio: round2(median(point.cpuRatios)),
    connections: pointConnections,
    unsharded_router_vs_raw: round2(median(rawPoint.ratios)),
    raw: { ...summarize(rawPoint.a), cpu_us_per_read: cpu(rawPoint.a) },
  };
  console.log(
    JSON.stringify({ part: 'point_read_sharded_vs_unsharded', concurrency: POINT_CONCURRENCY, ...pointFigures }),
  );

  console.log(
    JSON.stringify({
      bench: 'shard-read',
      rows: ROWS,
      rounds: ROUNDS,
      round_ms: ROUND_MS,
      cross_shard_top100_qps: topFigures.four_shards_router.qps,
      one_server_top100_qps: topFigures.one_server_raw.qps,
      cross_shard_top100_ratio: topFigures.ratio,
      cross_shard_top100_ratio_min: topFigures.ratio_min,
      cross_shard_top100_ratio_max: topFigures.ratio_max,
      cross_shard_router_vs_raw_fanout: fanFigures.ratio,
      point_sharded_qps: pointFigures.sharded_router.qps,
      point_unsharded_qps: pointFigures.unsharded_router.qps,
      point_ratio_min: pointFigures.ratio_min,
      point_ratio_max: pointFigures.ratio_max,
      point_cpu_ratio: pointFigures.cpu_ratio,
      ratio: pointFigures.ratio,
    }),
  );
} finally {
  for (const r of routers) await r.close();
  await Promise.all(raws.map((p) => p.end()));
  await topo.stop();
}
