// Time to apply 200 migrations to 8 (cluster, schema) targets (2 clusters x 4 schemas), same run, same servers:
//   raw        plain pg: per target, per migration BEGIN; SET LOCAL search_path; <sql>; COMMIT   (the physical limit)
//   raw4       the same with 4 targets at a time
//   sequential MigrationManager.migrate()            (locks, history rows, checksums, events)
//   parallel   MigrationManager.migrate({ parallel: true, maxParallel: 4 })
// Each round runs every variant on fresh schemas, interleaved (the order alternates round by round);
// medians of ROUNDS with their spread (min-max), and the per-round ratios sequential/raw and
// parallel/raw4 (median and min-max). Before the timed rounds, one counting pass (COUNT_MIGRATIONS
// migrations, not timed) counts the client round trips (pg `Client#query` calls: node-postgres sends
// one query at a time) and the statements they carry, per step and per run, of raw and of the manager
// (a `queryAfter` pipeline is one call carrying no text: one round trip, counted as one statement).
// Each timed run also records the CPU time it cost, this process plus both PostgreSQL servers (every
// process of theirs, from /proc): on a shared machine CPU time moves less with the load than wall time.
// The client's own part (this process, `process.cpuUsage`, read outside the /proc scans) is reported
// apart: client CPU per run and per step, and its ratios.
//   node --import tsx bench/migrate/index.ts
import { readdirSync, readFileSync } from 'node:fs';
import { MigrationManager, splitSql } from '@pg-multiverse/migrate';
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const MIGRATIONS = Number(process.env.MIGRATIONS ?? 200);
const COUNT_MIGRATIONS = Number(process.env.COUNT_MIGRATIONS ?? 20);
const SCHEMAS_PER_CLUSTER = 4;
const TARGETS = 2 * SCHEMAS_PER_CLUSTER;

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

const TICK_MS = 10; // USER_HZ = 100 on Linux
/** utime + stime (+ children's, reaped) of a process, in ms; its ppid. */
function statOf(pid: number): { ms: number; reaped: number; ppid: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
    return {
      ppid: Number(f[1]),
      ms: (Number(f[11]) + Number(f[12])) * TICK_MS,
      reaped: (Number(f[13]) + Number(f[14])) * TICK_MS,
    };
  } catch {
    return undefined; // gone meanwhile
  }
}
/** CPU ms so far of this process and of the servers (postmasters, their live and reaped children). */
function cpuNow(): number {
  const c = process.cpuUsage();
  let ms = (c.user + c.system) / 1000;
  const masters = new Set(
    (['c1', 'c2'] as const).map((id) => topo.cluster(id).primary.pid).filter((x): x is number => !!x),
  );
  for (const pid of masters) {
    const s = statOf(pid);
    if (s) ms += s.ms + s.reaped;
  }
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = statOf(Number(d));
    if (s && masters.has(s.ppid)) ms += s.ms;
  }
  return ms;
}

interface Run {
  ms: number;
  /** CPU ms (client + servers) from the start of the timed part until its connections are closed. */
  cpu: number;
  /** CPU ms of this process alone over the same span. */
  client: number;
}

const clientMs = () => {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
};

async function raw(concurrency: number, migrations = MIGRATIONS): Promise<Run> {
  const cfg = freshConfig();
  const pools = { c1: new pg.Pool({ ...node('c1'), max: 8 }), c2: new pg.Pool({ ...node('c2'), max: 8 }) };
  const targets = targetsOf(cfg);
  const c0 = cpuNow();
  const k0 = clientMs();
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const t = targets[next++]!;
      const client = await pools[t.cluster].connect();
      try {
        await client.query(`CREATE SCHEMA IF NOT EXISTS "${t.schema}"`);
        for (let i = 1; i <= migrations; i++) {
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
  const client = clientMs() - k0;
  return { ms, cpu: cpuNow() - c0, client };
}

async function managed(parallel: boolean, migrations = MIGRATIONS): Promise<Run> {
  const cfg = freshConfig();
  const mm = new MigrationManager({
    clusters: cfg,
    migrationsPath: '/nonexistent-pgm-bench',
    controlSchema: `pgm_bench_${seq}`,
  });
  for (let i = 1; i <= migrations; i++) {
    const sql = sqlOf(i);
    mm.addMigration({ version: version(i), up: (ctx) => ctx.query(sql).then(() => {}) });
  }
  await mm.initialize();
  const c0 = cpuNow();
  const k0 = clientMs();
  const t0 = performance.now();
  const res = await mm.migrate(parallel ? { parallel: true, maxParallel: 4 } : {});
  const ms = performance.now() - t0;
  if (res.applied !== migrations * targetsOf(cfg).length) throw new Error(`applied ${res.applied}`);
  await mm.close();
  const client = clientMs() - k0;
  return { ms, cpu: cpuNow() - c0, client };
}

/** Round trips (pg `Client#query` calls) and the statements they carry while `fn` runs. */
async function counted(fn: () => Promise<unknown>): Promise<{ roundTrips: number; statements: number }> {
  const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
  const original = proto.query;
  const n = { roundTrips: 0, statements: 0 };
  proto.query = function (this: unknown, ...args: unknown[]) {
    const q = args[0];
    const text = typeof q === 'string' ? q : ((q as { text?: string })?.text ?? '');
    const values = Array.isArray(args[1]) ? args[1] : (q as { values?: unknown[] })?.values;
    n.roundTrips++;
    n.statements += values && values.length > 0 ? 1 : Math.max(1, splitSql(text).length);
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    proto.query = original;
  }
  return n;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};
const r2 = (x: number) => Math.round(x * 100) / 100;
const spread = (xs: number[], round: (x: number) => number) => [round(Math.min(...xs)), round(Math.max(...xs))];

try {
  // Counting pass: runs of 1 and of COUNT_MIGRATIONS migrations; per step = the difference / the steps between.
  const counts: Record<string, unknown> = {};
  for (const [name, run] of [
    ['raw', (m: number) => raw(1, m)],
    ['sequential', (m: number) => managed(false, m)],
    ['parallel', (m: number) => managed(true, m)],
  ] as const) {
    const one = await counted(() => run(1));
    const many = await counted(() => run(COUNT_MIGRATIONS));
    const steps = (COUNT_MIGRATIONS - 1) * TARGETS;
    const perStep = (many.roundTrips - one.roundTrips) / steps;
    counts[name] = {
      round_trips_per_step: r2(perStep),
      statements_per_step: r2((many.statements - one.statements) / steps),
      // What a run costs besides its steps (control tables, history reads, locks, sessions).
      round_trips_per_run: Math.round(one.roundTrips - perStep * TARGETS),
      round_trips_total: many.roundTrips,
      statements_total: many.statements,
    };
    console.log(`count ${name} (${COUNT_MIGRATIONS} migrations x ${TARGETS} targets): ${JSON.stringify(counts[name])}`);
  }

  const r: Record<string, number[]> = { raw: [], raw4: [], sequential: [], parallel: [] };
  const cpu: Record<string, number[]> = { raw: [], raw4: [], sequential: [], parallel: [] };
  const client: Record<string, number[]> = { raw: [], raw4: [], sequential: [], parallel: [] };
  const variants: Record<string, () => Promise<Run>> = {
    raw: () => raw(1),
    sequential: () => managed(false),
    raw4: () => raw(4),
    parallel: () => managed(true),
  };
  for (let round = 0; round < ROUNDS; round++) {
    // Pairs side by side, the order swapped every round, so a drift of the shared machine hits both alike.
    const order =
      round % 2 === 0 ? ['raw', 'sequential', 'raw4', 'parallel'] : ['parallel', 'raw4', 'sequential', 'raw'];
    for (const v of order) {
      const run = await variants[v]!();
      r[v]!.push(run.ms);
      cpu[v]!.push(run.cpu);
      client[v]!.push(run.client);
    }
    console.log(
      `round ${round + 1}: ${Object.entries(r)
        .map(
          ([k, v]) =>
            `${k} ${Math.round(v[round]!)} ms (cpu ${Math.round(cpu[k]![round]!)} ms, client ${Math.round(client[k]![round]!)} ms)`,
        )
        .join(', ')}`,
    );
  }
  const steps = MIGRATIONS * TARGETS;
  const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Math.round(median(v))]));
  const seqRatios = r.sequential!.map((x, i) => x / r.raw![i]!);
  const parRatios = r.parallel!.map((x, i) => x / r.raw4![i]!);
  const seqCpuRatios = cpu.sequential!.map((x, i) => x / cpu.raw![i]!);
  const parCpuRatios = cpu.parallel!.map((x, i) => x / cpu.raw4![i]!);
  const cpuMedian = Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, Math.round(median(v))]));
  const clientMedian = Object.fromEntries(Object.entries(client).map(([k, v]) => [k, Math.round(median(v))]));
  // Client CPU per step in microseconds (the run's fixed costs included).
  const clientPerStep = Object.fromEntries(
    Object.entries(client).map(([k, v]) => [k, Math.round((median(v) / steps) * 1000)]),
  );
  const seqClientRatios = client.sequential!.map((x, i) => x / client.raw![i]!);
  const parClientRatios = client.parallel!.map((x, i) => x / client.raw4![i]!);
  console.log(
    JSON.stringify({
      bench: 'migrate',
      migrations: MIGRATIONS,
      targets: TARGETS,
      steps,
      rounds: ROUNDS,
      raw_ms: m.raw,
      raw4_ms: m.raw4,
      sequential_ms: m.sequential,
      parallel_ms: m.parallel,
      raw_ms_spread: spread(r.raw!, Math.round),
      raw4_ms_spread: spread(r.raw4!, Math.round),
      sequential_ms_spread: spread(r.sequential!, Math.round),
      parallel_ms_spread: spread(r.parallel!, Math.round),
      sequential_steps_per_s: Math.round((steps / m.sequential!) * 1000),
      parallel_speedup: r2(m.sequential! / m.parallel!),
      sequential_vs_raw: r2(median(seqRatios)),
      sequential_vs_raw_spread: spread(seqRatios, r2),
      parallel_vs_raw4: r2(median(parRatios)),
      parallel_vs_raw4_spread: spread(parRatios, r2),
      cpu_ms: cpuMedian,
      sequential_cpu_vs_raw: r2(median(seqCpuRatios)),
      sequential_cpu_vs_raw_spread: spread(seqCpuRatios, r2),
      parallel_cpu_vs_raw4: r2(median(parCpuRatios)),
      parallel_cpu_vs_raw4_spread: spread(parCpuRatios, r2),
      client_cpu_ms: clientMedian,
      client_cpu_us_per_step: clientPerStep,
      sequential_client_cpu_vs_raw: r2(median(seqClientRatios)),
      sequential_client_cpu_vs_raw_spread: spread(seqClientRatios, r2),
      parallel_client_cpu_vs_raw4: r2(median(parClientRatios)),
      parallel_client_cpu_vs_raw4_spread: spread(parClientRatios, r2),
      counts,
      ratio: r2(median(seqRatios)),
    }),
  );
} finally {
  await topo.stop();
}
