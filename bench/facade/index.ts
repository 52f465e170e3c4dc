// Facade overhead: PgMultiverse#query() with routing, metrics and a queryExecuted
// listener on, cache off, vs a raw pg.Pool on the same server, `SELECT $1::int`
// at concurrency 32, in PAIRS pairs of short rounds, the order swapped every pair
// (median of the pair ratios quoted; also this process's CPU per query). Then a
// repeated read with cache on vs the same read through raw pg.Pool, and a control:
// raw pg.Pool against itself by the same method (its spread is the noise floor). Then the
// cost of tracing: the same query() with tracing on (the default when @opentelemetry/api is
// installed; no SDK registered, so its global tracer is the no-op one) vs `tracing: false`.
//   node --import tsx bench/facade/index.ts
import { startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { PgMultiverse } from 'pg-multiverse';
import { type CpuFigures, measure as measureLoad, median, paired, round2, summarize } from '../lib/load.js';

const CONCURRENCY = 32;
const ROUND_MS = Number(process.env.ROUND_MS ?? 1000);
const PAIRS = Number(process.env.PAIRS ?? 20);
const CACHE_PAIRS = Number(process.env.CACHE_PAIRS ?? 6);
const CONTROL_PAIRS = Number(process.env.CONTROL_PAIRS ?? 10);
const TRACING_PAIRS = Number(process.env.TRACING_PAIRS ?? 10);
const POOL_MAX = 16;

const measure = (op: (i: number) => Promise<unknown>) =>
  measureLoad(op, { concurrency: CONCURRENCY, roundMs: ROUND_MS });

const topo = await startTopology({
  clusters: { main: { replicas: 0, schemas: ['app'] } },
  settings: { max_connections: 200 },
});
let pgm: PgMultiverse | undefined;
let cached: PgMultiverse | undefined;
let untraced: PgMultiverse | undefined;
let raw: pg.Pool | undefined;
try {
  const { primary } = topo.cluster('main');
  await primary.query(
    'CREATE TABLE app.products AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 50) g',
  );
  // Straight to the server (not through the testkit's fault proxy), for both sides.
  const direct = { ...primary.connection, port: primary.serverPort };
  const config = { main: { schemas: ['app'], primary: direct } };
  // Same pool settings as the facade's own pools (pg-pool arms a timer per queued checkout
  // when connectionTimeoutMillis is set; a baseline without it would look ~4 % faster).
  raw = new pg.Pool({
    ...direct,
    max: POOL_MAX,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 10_000,
    application_name: 'pg-multiverse',
  });
  raw.on('error', () => undefined); // servers stop at teardown
  pgm = new PgMultiverse({ enableMetrics: true, connectionPool: { max: POOL_MAX } });
  await pgm.initialize(config);
  let events = 0;
  pgm.on('queryExecuted', () => {
    events++;
  });
  untraced = new PgMultiverse({ enableMetrics: true, tracing: false, connectionPool: { max: POOL_MAX } });
  await untraced.initialize(config);
  untraced.on('queryExecuted', () => {
    events++;
  });
  cached = new PgMultiverse({ enableCache: true, connectionPool: { max: POOL_MAX } });
  await cached.initialize(config);

  const rawOp = (i: number) => raw!.query('SELECT $1::int AS v', [i]);
  const pgmOp = (i: number) => pgm!.query('SELECT $1::int AS v', [i], { schema: 'app' });
  const readSql = 'SELECT id, name FROM products ORDER BY id';
  const rawRead = () => raw!.query(`SELECT id, name FROM app.products ORDER BY id`);
  const cachedRead = () => cached!.query(readSql, [], { schema: 'app', cache: true });
  const untracedOp = (i: number) => untraced!.query('SELECT $1::int AS v', [i], { schema: 'app' });
  for (const op of [rawOp, pgmOp, untracedOp, rawRead, cachedRead]) await measure(op); // warm-up

  const opts = { concurrency: CONCURRENCY, roundMs: ROUND_MS };
  const q = await paired(rawOp, pgmOp, { ...opts, pairs: PAIRS });
  const c = await paired(rawRead, cachedRead, { ...opts, pairs: CACHE_PAIRS });
  // Control: raw pg.Pool against itself, same method: the spread of its ratio is the noise floor.
  const ctl = await paired(rawOp, rawOp, { ...opts, pairs: CONTROL_PAIRS });
  // Tracing on (no-op tracer) vs off, same method: b/a = traced / untraced.
  const tr = await paired(untracedOp, pgmOp, { ...opts, pairs: TRACING_PAIRS });
  const cpu = (xs: CpuFigures[]) => ({
    all: round2(median(xs.map((x) => x.cpuUsPerOp))),
    user: round2(median(xs.map((x) => x.userUsPerOp))),
    system: round2(median(xs.map((x) => x.sysUsPerOp))),
  });
  const out = {
    bench: 'facade',
    concurrency: CONCURRENCY,
    pairs: PAIRS,
    round_ms: ROUND_MS,
    raw_pool: summarize(q.a),
    pgm_query: summarize(q.b),
    client_cpu_us_per_query: { raw_pool: cpu(q.a), pgm_query: cpu(q.b), ratio: round2(median(q.cpuRatios)) },
    pair_ratios: q.ratios.map(round2),
    control_raw_vs_raw: {
      ratio: round2(median(ctl.ratios)),
      min: round2(Math.min(...ctl.ratios)),
      max: round2(Math.max(...ctl.ratios)),
    },
    raw_pool_read_50_rows: summarize(c.a),
    pgm_cached_read_50_rows: summarize(c.b),
    tracing_noop_vs_off: {
      tracing_off: summarize(tr.a),
      tracing_noop: summarize(tr.b),
      cpu_us_per_query: { tracing_off: cpu(tr.a), tracing_noop: cpu(tr.b), ratio: round2(median(tr.cpuRatios)) },
      ratio: round2(median(tr.ratios)),
      min: round2(Math.min(...tr.ratios)),
      max: round2(Math.max(...tr.ratios)),
    },
    events_seen: events,
    counted_queries: pgm.getMetrics().totalQueries + untraced.getMetrics().totalQueries,
    cached_ratio: round2(median(c.ratios)),
    ratio: round2(median(q.ratios)),
  };
  console.log(`query() vs raw pg.Pool: ${out.pgm_query.qps} vs ${out.raw_pool.qps} q/s (median ratio ${out.ratio})`);
  console.log(
    `cached read vs raw read: ${out.pgm_cached_read_50_rows.qps} vs ${out.raw_pool_read_50_rows.qps} q/s (median ratio ${out.cached_ratio})`,
  );
  console.log(
    `query() tracing on (no-op tracer) vs off: ${out.tracing_noop_vs_off.tracing_noop.qps} vs ${out.tracing_noop_vs_off.tracing_off.qps} q/s (median ratio ${out.tracing_noop_vs_off.ratio})`,
  );
  console.log(JSON.stringify(out));
} finally {
  await pgm?.close();
  await cached?.close();
  await untraced?.close();
  await raw?.end();
  await topo.stop();
}
