// Time to apply 200 migrations to 8 (cluster, schema) targets (2 clusters x 4 schemas), same run, same servers:
//   raw        plain pg: per target, per migration BEGIN; SET LOCAL search_path; <sql>; COMMIT   (the physical limit)
//   raw4       the same with 4 targets at a time
//   sequential MigrationManager.migrate()            (locks, history rows, checksums, events)
//   parallel   MigrationManager.migrate({ parallel: true, maxParallel: 4 })
// Each round runs every variant on fresh schemas, interleaved; medians of ROUNDS.
//   node --import tsx bench/migrate/index.ts
import { MigrationManager } from '@pg-multiverse/migrate';
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const MIGRATIONS = Number(process.env.MIGRATIONS ?? 200);
const SCHEMAS_PER_CLUSTER = 4;

const sqlOf = (i: number) =>
  `CREATE TABLE t${i} (id int PRIMARY KEY, v text NOT NULL); INSERT INTO t${i} VALUES (1, 'x'); CREATE INDEX t${i}_v ON t${i} (v)`;
const version = (i: number) => `20240101${String(100000 + i).slice(1)}0_m${i}`;

const topo = await startTopology({ clusters: { c1: { schemas: ['seed1'] }, c2: { schemas: ['seed2'] } } });
const node = (id: 'c1' | 'c2') => {
  // Straight to the server, not through the testkit's in-process fault-injection proxy.
  const c = topo.config[id]!.primary;
  return {
    host: topo.cluster(id).primary.host,
    port: topo.cluster(id).primary.serverPort,
    database: c.database,
    user: c.user,
  };
};
let seq = 0;
const freshConfig = () => {
  seq++;
  const names = (p: string) => Array.from({ length: SCHEMAS_PER_CLUSTER }, (_, i) => `${p}_${seq}_${i}`);
  return {
    c1: { schemas: names('a'), primary: { ...node('c1'), pool: { max: 8 } } },
    c2: { schemas: names('b'), primary: { ...node('c2'), pool: { max: 8 } } },
  };
};
const targetsOf = (cfg: ReturnType<typeof freshConfig>) =>
  (['c1', 'c2'] as const).flatMap((c) => cfg[c].schemas.map((schema) => ({ cluster: c, schema })));

async function raw(concurrency: number): Promise<number> {
  const cfg = freshConfig();
  const pools = { c1: new pg.Pool({ ...node('c1'), max: 8 }), c2: new pg.Pool({ ...node('c2'), max: 8 }) };
  const targets = targetsOf(cfg);
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const t = targets[next++]!;
      const client = await pools[t.cluster].connect();
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${t.schema}"`);
        for (let i = 1; i <= MIGRATIONS; i++) {
          await client.query('BEGIN');
          await client.query("SELECT set_config('search_path', $1, true)", [`"${t.schema}", public`]);
          await client.query(sqlOf(i));
          await client.query('COMMIT');
        }
      } finally {
        client.release();
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - t0;
  await Promise.all([pools.c1.end(), pools.c2.end()]);
  return ms;
}

async function managed(parallel: boolean): Promise<number> {
  const cfg = freshConfig();
  const mm = new MigrationManager({
    clusters: cfg,
    migrationsPath: '/nonexistent-pgm-bench',
    controlSchema: `pgm_bench_${seq}`,
  });
  for (let i = 1; i <= MIGRATIONS; i++) {
    const sql = sqlOf(i);
    mm.addMigration({ version: version(i), up: (ctx) => ctx.query(sql).then(() => {}) });
  }
  await mm.initialize();
  const t0 = performance.now();
  const res = await mm.migrate(parallel ? { parallel: true, maxParallel: 4 } : {});
  const ms = performance.now() - t0;
  if (res.applied !== MIGRATIONS * targetsOf(cfg).length) throw new Error(`applied ${res.applied}`);
  await mm.close();
  return ms;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]!);
};

try {
  const r: Record<string, number[]> = { raw: [], raw4: [], sequential: [], parallel: [] };
  for (let round = 0; round < ROUNDS; round++) {
    r.raw!.push(await raw(1));
    r.sequential!.push(await managed(false));
    r.raw4!.push(await raw(4));
    r.parallel!.push(await managed(true));
    console.log(
      `round ${round + 1}: ${Object.entries(r)
        .map(([k, v]) => `${k} ${Math.round(v[round]!)} ms`)
        .join(', ')}`,
    );
  }
  const steps = MIGRATIONS * 2 * SCHEMAS_PER_CLUSTER;
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)]));
  console.log(
    JSON.stringify({
      bench: 'migrate',
      migrations: MIGRATIONS,
      targets: 2 * SCHEMAS_PER_CLUSTER,
      steps,
      rounds: ROUNDS,
      raw_ms: m.raw,
      raw4_ms: m.raw4,
      sequential_ms: m.sequential,
      parallel_ms: m.parallel,
      sequential_steps_per_s: Math.round((steps / m.sequential!) * 1000),
      parallel_speedup: +(m.sequential! / m.parallel!).toFixed(2),
      parallel_vs_raw4: +(m.parallel! / m.raw4!).toFixed(2),
      ratio: +(m.sequential! / m.raw!).toFixed(2),
    }),
  );
} finally {
  await topo.stop();
}
