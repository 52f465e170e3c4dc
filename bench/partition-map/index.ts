// The partition map's cost on the write path, and how long a cutover holds writes, same run, same servers:
//   raw      INSERT of one row on a pg.Pool straight to the shard server        (the physical limit)
//   routed   the same INSERT through createRouter() with { shardKey } on a cluster whose stored map
//            is in force (no guard on its table)
//   guarded  the same through a second cluster whose table carries the ownership guard trigger
//            (what every sharded table pays once a partition has been moved)
// Interleaved rounds (raw, routed, guarded, order rotated), medians of ROUNDS, ratios against raw per
// round, spread = min..max of the per-round ratios. Then CUTOVERS cutovers of one partition of the
// guarded cluster back and forth between the two servers while writers keep writing to it
// (hold -> fence -> commit, no copy: the routing side only); `heldMs` of each, p50/p99.
//   node --import tsx bench/partition-map/index.ts
import type { ClusterConfiguration } from '@pg-multiverse/core';
import { createRouter, hashShard, type Router } from '@pg-multiverse/router';
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { median, round2 } from '../lib/load.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION_MS = Number(process.env.DURATION_MS ?? 2000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const CUTOVERS = Number(process.env.CUTOVERS ?? 20);
const PARTITIONS = 8;

const topo = await startTopology({ clusters: { s0: {}, s1: {} } });
const routers: Router[] = [];
try {
  const direct = (id: 's0' | 's1') => {
    const h = topo.cluster(id).primary;
    const { id: _id, ...conn } = { ...h.connection, port: h.serverPort };
    return conn;
  };
  for (const id of ['s0', 's1'] as const) {
    const p = new pg.Pool({ ...direct(id), max: 1 });
    await p.query('CREATE SCHEMA bpa; CREATE SCHEMA bpb');
    await p.query('CREATE TABLE bpa.items (user_id int8 NOT NULL, v int NOT NULL)');
    await p.query('CREATE TABLE bpb.items (user_id int8 NOT NULL, v int NOT NULL)');
    await p.end();
  }
  const cluster = (schema: string) => ({
    schemas: [schema],
    primary: direct('s0'),
    connectionPool: { max: CONCURRENCY },
    sharding: {
      strategy: 'hash' as const,
      key: 'user_id',
      partitions: PARTITIONS,
      keyType: 'int8' as const,
      shards: [
        { id: 'shard-0', primary: direct('s0') },
        { id: 'shard-1', primary: direct('s1') },
      ],
    },
  });
  const config: ClusterConfiguration = { plain: cluster('bpa'), guarded: cluster('bpb') };
  const router = createRouter(config, { monitor: { healthCheckInterval: 60_000 } });
  routers.push(router);
  await router.start();
  await router.installPartitionGuards('guarded');

  // Keys whose partition shard-0 holds (so raw and routed hit the same server).
  const keys: number[] = [];
  for (let k = 1; keys.length < 1000; k++) if (hashShard(k, PARTITIONS, 'int8') % 2 === 0) keys.push(k);
  const raw = new pg.Pool({ ...direct('s0'), max: CONCURRENCY });
  let n = 0;
  const key = () => keys[n++ % keys.length]!;
  const variants: Record<string, () => Promise<unknown>> = {
    raw: () => raw.query('INSERT INTO bpa.items VALUES ($1, $2)', [key(), n]),
    routed: () => {
      const k = key();
      return router.query('INSERT INTO items VALUES ($1, $2)', [k, n], { schema: 'bpa', shardKey: k });
    },
    guarded: () => {
      const k = key();
      return router.query('INSERT INTO items VALUES ($1, $2)', [k, n], { schema: 'bpb', shardKey: k });
    },
  };

  const measure = async (fn: () => Promise<unknown>, ms: number) => {
    let done = 0;
    const end = performance.now() + ms;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          await fn();
          done++;
        }
      }),
    );
    return done / ((performance.now() - start) / 1000);
  };

  for (const fn of Object.values(variants)) await measure(fn, 500); // warm-up
  const qps: Record<string, number[]> = { raw: [], routed: [], guarded: [] };
  const ratios: Record<string, number[]> = { routed: [], guarded: [] };
  const names = Object.keys(variants);
  for (let r = 0; r < ROUNDS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    const got: Record<string, number> = {};
    for (const name of order) got[name] = await measure(variants[name]!, DURATION_MS);
    for (const name of names) qps[name]!.push(got[name]!);
    ratios.routed!.push(got.routed! / got.raw!);
    ratios.guarded!.push(got.guarded! / got.raw!);
  }

  // Cutovers under load: writers on the moving partition all along.
  const moving = 0;
  const movingKeys: number[] = [];
  for (let k = 1; movingKeys.length < 200; k++) if (hashShard(k, PARTITIONS, 'int8') === moving) movingKeys.push(k);
  const held: number[] = [];
  router.on('partitionsReleased', (e) => {
    if (e.clusterId === 'guarded' && e.outcome === 'committed') held.push(e.heldMs);
  });
  let stop = false;
  let writes = 0;
  let failed = 0;
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stop; i++) {
      const k = movingKeys[(w * 25 + i) % movingKeys.length]!;
      try {
        await router.query('INSERT INTO items VALUES ($1, $2)', [k, i], { schema: 'bpb', shardKey: k });
        writes++;
      } catch {
        failed++;
      }
    }
  });
  for (let c = 0; c < CUTOVERS; c++) {
    const to = router.partitionMap('guarded').owners[moving] === 'shard-0' ? 'shard-1' : 'shard-0';
    const hold = await router.holdPartitions({ clusterId: 'guarded', partitions: [moving], timeoutMs: 10_000 });
    await hold.fence();
    await hold.commit({ [moving]: to });
    await new Promise((r) => setTimeout(r, 100));
  }
  stop = true;
  await Promise.all(writers);
  await raw.end();

  const sorted = [...held].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
  const spread = (xs: number[]) => `${round2(Math.min(...xs))}..${round2(Math.max(...xs))}`;
  const rawQps = median(qps.raw!);
  console.log(
    `INSERT/s (median of ${ROUNDS} x ${DURATION_MS} ms, concurrency ${CONCURRENCY}): raw ${rawQps.toFixed(0)}, ` +
      `routed ${median(qps.routed!).toFixed(0)} (x${round2(median(ratios.routed!))}, ${spread(ratios.routed!)}), ` +
      `guarded ${median(qps.guarded!).toFixed(0)} (x${round2(median(ratios.guarded!))}, ${spread(ratios.guarded!)}); ` +
      `${CUTOVERS} cutovers under 8 writers: hold p50 ${round2(q(0.5))} ms, p99 ${round2(q(0.99))} ms; ` +
      `${writes} writes, ${failed} failed`,
  );
  console.log(
    JSON.stringify({
      bench: 'partition-map',
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      raw_qps: Math.round(rawQps),
      routed_qps: Math.round(median(qps.routed!)),
      guarded_qps: Math.round(median(qps.guarded!)),
      routed_ratio: round2(median(ratios.routed!)),
      routed_spread: spread(ratios.routed!),
      guarded_ratio: round2(median(ratios.guarded!)),
      guarded_spread: spread(ratios.guarded!),
      cutovers: held.length,
      hold_p50_ms: round2(q(0.5)),
      hold_p99_ms: round2(q(0.99)),
      writes_during_cutovers: writes,
      failed_writes: failed,
      ratio: round2(median(ratios.guarded!)),
    }),
  );
} finally {
  await Promise.allSettled(routers.map((r) => r.close()));
  await topo.stop();
}
