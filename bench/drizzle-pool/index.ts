// Drizzle ORM over pgm.pool() vs Drizzle over a raw pg.Pool on the same server, same run:
// a prepared-free select by primary key (`db.select().from(products).where(eq(id, $1))`, rows
// as objects, Drizzle's custom type parsers) at concurrency 32, in PAIRS pairs of short rounds,
// the order swapped every pair (median of the pair ratios quoted; also this process's CPU per
// query), then the same for a join Drizzle reads as arrays (rowMode 'array'). A control: raw
// against raw by the same method (its spread is the noise floor). Target: ratio >= 0.95.
//   node --import tsx bench/drizzle-pool/index.ts
import { startTopology } from '@pg-multiverse/testkit';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgSchema, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { PgMultiverse } from 'pg-multiverse';
import { type CpuFigures, measure as measureLoad, median, paired, round2, summarize } from '../lib/load.js';

const CONCURRENCY = 32;
const ROUND_MS = Number(process.env.ROUND_MS ?? 1000);
const PAIRS = Number(process.env.PAIRS ?? 16);
const JOIN_PAIRS = Number(process.env.JOIN_PAIRS ?? 8);
const CONTROL_PAIRS = Number(process.env.CONTROL_PAIRS ?? 8);
const WARMUP = Number(process.env.WARMUP ?? 3);
const POOL_MAX = 16;

const app = pgSchema('app');
const products = app.table('products', { id: integer('id').primaryKey(), name: text('name').notNull() });
const tags = app.table('tags', {
  id: integer('id').primaryKey(),
  productId: integer('product_id').notNull(),
  name: text('name').notNull(),
});

const topo = await startTopology({
  clusters: { main: { replicas: 0, schemas: ['app'] } },
  settings: { max_connections: 200 },
});
let pgm: PgMultiverse | undefined;
let raw: pg.Pool | undefined;
try {
  const { primary } = topo.cluster('main');
  await primary.query(
    `CREATE TABLE app.products AS SELECT g AS id, md5(g::text) AS name FROM generate_series(1, 1000) g;
     ALTER TABLE app.products ADD PRIMARY KEY (id);
     CREATE TABLE app.tags AS SELECT g AS id, g AS product_id, 'tag' || g AS name FROM generate_series(1, 1000) g;
     ALTER TABLE app.tags ADD PRIMARY KEY (id)`,
  );
  // Straight to the server (not through the testkit's fault proxy), for both sides; same pool settings.
  const direct = { ...primary.connection, port: primary.serverPort };
  raw = new pg.Pool({
    ...direct,
    max: POOL_MAX,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 10_000,
    application_name: 'pg-multiverse',
  });
  raw.on('error', () => undefined); // servers stop at teardown
  pgm = new PgMultiverse({ enableMetrics: true, connectionPool: { max: POOL_MAX } });
  await pgm.initialize({ main: { schemas: ['app'], primary: direct } });
  const rawDb = drizzle({ client: raw });
  const pgmDb = drizzle({ client: pgm.pool() });

  const byId = (db: typeof rawDb) => (i: number) =>
    db
      .select()
      .from(products)
      .where(eq(products.id, (i % 1000) + 1));
  const join = (db: typeof rawDb) => (i: number) =>
    db
      .select({ id: products.id, name: products.name, tag: tags.name, tagId: tags.id })
      .from(products)
      .innerJoin(tags, eq(tags.productId, products.id))
      .where(eq(products.id, (i % 1000) + 1));
  const rawOp = byId(rawDb);
  const pgmOp = byId(pgmDb);
  const rawJoin = join(rawDb);
  const pgmJoin = join(pgmDb);
  // Same answers both ways before timing anything.
  const [a, b] = await Promise.all([rawJoin(6), pgmJoin(6)]);
  if (JSON.stringify(a) !== JSON.stringify(b)) throw new Error(`different rows: ${JSON.stringify([a, b])}`);
  const opts = { concurrency: CONCURRENCY, roundMs: ROUND_MS };
  // Warm-up: both sides' code paths optimized before the first timed round (WARMUP rounds each, alternated).
  for (let w = 0; w < WARMUP; w++) for (const op of [rawOp, pgmOp, rawJoin, pgmJoin]) await measureLoad(op, opts);

  const q = await paired(rawOp, pgmOp, { ...opts, pairs: PAIRS });
  const j = await paired(rawJoin, pgmJoin, { ...opts, pairs: JOIN_PAIRS });
  const ctl = await paired(rawOp, rawOp, { ...opts, pairs: CONTROL_PAIRS });
  const cpu = (xs: CpuFigures[]) => round2(median(xs.map((x) => x.cpuUsPerOp)));
  const out = {
    bench: 'drizzle-pool',
    concurrency: CONCURRENCY,
    pairs: PAIRS,
    round_ms: ROUND_MS,
    raw_drizzle: summarize(q.a),
    pgm_pool_drizzle: summarize(q.b),
    client_cpu_us_per_query: { raw_drizzle: cpu(q.a), pgm_pool_drizzle: cpu(q.b), ratio: round2(median(q.cpuRatios)) },
    pair_ratios: q.ratios.map(round2),
    join_raw_drizzle: summarize(j.a),
    join_pgm_pool_drizzle: summarize(j.b),
    join_ratio: round2(median(j.ratios)),
    control_raw_vs_raw: {
      ratio: round2(median(ctl.ratios)),
      min: round2(Math.min(...ctl.ratios)),
      max: round2(Math.max(...ctl.ratios)),
    },
    counted_queries: pgm.getMetrics().totalQueries,
    ratio: round2(median(q.ratios)),
  };
  console.log(
    `Drizzle over pgm.pool() vs over pg.Pool: ${out.pgm_pool_drizzle.qps} vs ${out.raw_drizzle.qps} q/s (median ratio ${out.ratio}); join (rows as arrays) ratio ${out.join_ratio}`,
  );
  console.log(JSON.stringify(out));
} finally {
  await pgm?.close();
  await raw?.end();
  await topo.stop();
}
