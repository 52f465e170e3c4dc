// Transactions per second of pg-multiverse/tx, same run, same servers:
//   raw     BEGIN; UPDATE; COMMIT on one pg.Pool                       (the physical limit)
//   single  tm.withTransaction([one schema])   -> plain BEGIN/COMMIT
//   cross   tm.withTransaction([two schemas])  -> two-phase commit over two clusters
// Each round runs every variant for DURATION_MS at CONCURRENCY, interleaved; medians of ROUNDS.
//   node --import tsx bench/tx/index.ts
import { PgmError, poolProvider } from '@pg-multiverse/core';
import { startTopology } from '@pg-multiverse/testkit';
import { createTransactionManager } from '@pg-multiverse/tx';
import pg from 'pg';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION_MS = Number(process.env.DURATION_MS ?? 3000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const ROWS = 1000;

const topo = await startTopology({ clusters: { c1: { schemas: ['sa'] }, c2: { schemas: ['sb'] } } });
try {
  const pool = (id: 'c1' | 'c2') => {
    // Straight to the server, not through the testkit's fault-injection proxy (which runs in this process).
    const c = topo.config[id]!.primary;
    const node = topo.cluster(id).primary;
    return new pg.Pool({
      host: node.host,
      port: node.serverPort,
      database: c.database,
      user: c.user,
      max: CONCURRENCY,
    });
  };
  const pools = { c1: pool('c1'), c2: pool('c2') };
  const raw = pool('c1');
  for (const [id, schema] of [
    ['c1', 'sa'],
    ['c2', 'sb'],
  ] as const) {
    await pools[id].query(`CREATE TABLE ${schema}.acc (id int PRIMARY KEY, balance bigint NOT NULL)`);
    await pools[id].query(`INSERT INTO ${schema}.acc SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
  }
  const providers = { c1: poolProvider(pools.c1, 'c1/primary'), c2: poolProvider(pools.c2, 'c2/primary') };
  const tm = createTransactionManager({
    resolveCluster: (s) => {
      if (s === 'sa') return 'c1';
      if (s === 'sb') return 'c2';
      throw new PgmError('UNKNOWN_SCHEMA', s);
    },
    primary: (id) => providers[id as 'c1' | 'c2'],
    clusterIds: () => ['c1', 'c2'],
    recoveryIntervalMs: 0,
  });
  await tm.preflight();

  const key = () => 1 + Math.floor(Math.random() * ROWS);
  const variants: Record<string, () => Promise<unknown>> = {
    raw: async () => {
      const c = await raw.connect();
      try {
        await c.query('BEGIN');
        await c.query('UPDATE sa.acc SET balance = balance + 1 WHERE id = $1', [key()]);
        await c.query('COMMIT');
      } finally {
        c.release();
      }
    },
    single: () =>
      tm.withTransaction(['sa'], (tx) => tx.query('UPDATE acc SET balance = balance + 1 WHERE id = $1', [key()])),
    cross: () =>
      tm.withTransaction(['sa', 'sb'], async (tx) => {
        await tx.query('UPDATE acc SET balance = balance - 1 WHERE id = $1', [key()], { schema: 'sa' });
        await tx.query('UPDATE acc SET balance = balance + 1 WHERE id = $1', [key()], { schema: 'sb' });
      }),
  };

  const measure = async (fn: () => Promise<unknown>) => {
    let done = 0;
    let failed = 0;
    const end = performance.now() + DURATION_MS;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (performance.now() < end) {
          try {
            await fn();
            done++;
          } catch {
            failed++;
          }
        }
      }),
    );
    return { tps: done / ((performance.now() - start) / 1000), failed };
  };

  const results: Record<string, number[]> = { raw: [], single: [], cross: [] };
  let failures = 0;
  for (const fn of Object.values(variants)) await measure(fn); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, fn] of Object.entries(variants)) {
      const m = await measure(fn);
      results[name]!.push(m.tps);
      failures += m.failed;
    }
  }
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const rawTps = median(results.raw!);
  const singleTps = median(results.single!);
  const crossTps = median(results.cross!);
  console.log(
    `tx/s (median of ${ROUNDS} x ${DURATION_MS} ms, concurrency ${CONCURRENCY}): raw pg.Pool ${rawTps.toFixed(0)}, ` +
      `single-cluster ${singleTps.toFixed(0)}, cross-cluster 2PC ${crossTps.toFixed(0)}; failures ${failures}`,
  );
  await tm.close();
  await Promise.all([pools.c1.end(), pools.c2.end(), raw.end()]);
  console.log(
    JSON.stringify({
      bench: 'tx',
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      raw_tps: Math.round(rawTps),
      single_tps: Math.round(singleTps),
      cross_tps: Math.round(crossTps),
      single_ratio: Number((singleTps / rawTps).toFixed(3)),
      cross_ratio: Number((crossTps / rawTps).toFixed(3)),
      failures,
      ratio: Number((crossTps / rawTps).toFixed(3)),
    }),
  );
} finally {
  await topo.stop();
}
