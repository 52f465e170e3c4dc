// The CPU the routing layers add per statement, without the network (not part of `pnpm bench`):
// Drizzle over pgm.pool(), pool.query() and query() on a facade whose node provider answers the
// timed statements at once (the start check and the monitor's probes go to the real server),
// each against the same call on a client that answers at once. One flow, back to back, this
// process's CPU per statement (ns, median of ROUNDS rounds of N): the difference is the routing
// layers' own work (analysis, plan, execute, events, metrics, no-op tracing). `pool_dtext` is
// Drizzle's SQL text, built afresh per call as Drizzle builds it, through pool.query(). Drizzle's
// own ~40 us per statement swings by more than the layers cost, so `pool_overhead_ns` is noisy;
// `pool_dtext_overhead_ns` and `facade_overhead_ns` are the figures to compare.
//   cd bench && node --import tsx drizzle-pool/overhead.ts      (N, ROUNDS; ONLY=a,b; PROFILE=file)
import { type ConnectionProvider, type PoolLike, poolProvider } from '@pg-multiverse/core';
import { startTopology } from '@pg-multiverse/testkit';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgSchema, text } from 'drizzle-orm/pg-core';
import pg from 'pg';
import { PgMultiverse } from 'pg-multiverse';
import { median } from '../lib/load.js';

const N = Number(process.env.N ?? 50_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const app = pgSchema('app');
const products = app.table('products', { id: integer('id').primaryKey(), name: text('name').notNull() });

const topo = await startTopology({ clusters: { main: { replicas: 0, schemas: ['app'] } } });
const { primary } = topo.cluster('main');
const direct = { ...primary.connection, port: primary.serverPort };
const fields = [
  { name: 'id', tableID: 1, columnID: 1, dataTypeID: 23, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' },
  { name: 'name', tableID: 1, columnID: 2, dataTypeID: 25, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' },
];
const answer = (rowMode: unknown) => ({
  command: 'SELECT',
  rowCount: 1,
  oid: null,
  rows: rowMode === 'array' ? [[1, 'x']] : [{ id: 1, name: 'x' }],
  fields,
});
const real = poolProvider(new pg.Pool({ ...direct, max: 2 }) as unknown as PoolLike, 'main/primary');
const instant: ConnectionProvider = {
  ...real,
  id: real.id,
  run(textArg, _values, _s, settled, shape) {
    if (!textArg.startsWith('select ') && !textArg.startsWith('SELECT $1'))
      return real.run!(textArg, _values, _s, settled, shape);
    settled?.(true);
    return Promise.resolve({ result: answer(shape?.rowMode) as never });
  },
};
const pgm = new PgMultiverse({ enableMetrics: true, providers: { 'main/primary': instant } });
await pgm.initialize({ main: { schemas: ['app'], primary: direct } });
pgm.on('queryExecuted', () => undefined);
const fakeClient = { query: (config: { rowMode?: unknown }) => Promise.resolve(answer(config.rowMode)) };
const rawDb = drizzle({ client: fakeClient as unknown as pg.Pool });
const pgmDb = drizzle({ client: pgm.pool() });
const pool = pgm.pool();
const parts = ['SELECT', '$1::int', 'AS v'];
const dparts = ['select "id", "name" from "app"."products"', 'where "app"."products"."id" = $1'];
const types = { getTypeParser: pg.types.getTypeParser };
const byId = (db: typeof rawDb) => (i: number) =>
  db
    .select()
    .from(products)
    .where(eq(products.id, (i % 1000) + 1));
const ops: Record<string, (i: number) => Promise<unknown>> = {
  drizzle_instant: byId(rawDb),
  drizzle_pgm_pool: byId(pgmDb),
  instant_query: (i) => fakeClient.query({}).then(() => i),
  facade_query: (i) => pgm.query('SELECT $1::int AS v', [i], { schema: 'app' }),
  // pool.query with a constant text, and with a fresh (equal) text per call as Drizzle makes them.
  pool_const: (i) => pool.query({ text: 'SELECT $1::int AS v', values: [i], rowMode: 'array', types }),
  fresh_text: (i) => fakeClient.query({ text: parts.join(' '), values: [i] } as never).then(() => i),
  fresh_dtext: (i) => fakeClient.query({ text: dparts.join(' '), values: [i] } as never).then(() => i),
  pool_dtext: (i) => pool.query({ text: dparts.join(' '), values: [i], rowMode: 'array', types }),
  pool_fresh: (i) => pool.query({ text: parts.join(' '), values: [i], rowMode: 'array', types }),
};
async function loop(op: (i: number) => Promise<unknown>): Promise<number> {
  const c0 = process.cpuUsage();
  for (let i = 0; i < N; i++) await op(i);
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / N; // ns per op
}
if (process.env.ONLY) for (const k of Object.keys(ops)) if (!process.env.ONLY.split(',').includes(k)) delete ops[k];
const ns: Record<string, number[]> = {};
for (const k of Object.keys(ops)) await loop(ops[k]!); // warm-up
const profile = process.env.PROFILE;
let stopProfile: (() => Promise<void>) | undefined;
if (profile) {
  const inspector = await import('node:inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (msg: string, p?: object) =>
    new Promise<any>((res, rej) => session.post(msg, p ?? {}, (e, r) => (e ? rej(e) : res(r))));
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 50 });
  await post('Profiler.start');
  stopProfile = async () => {
    const { profile: prof } = await post('Profiler.stop');
    (await import('node:fs')).writeFileSync(profile, JSON.stringify(prof));
  };
}
for (let r = 0; r < ROUNDS; r++) for (const k of Object.keys(ops)) (ns[k] ??= []).push(await loop(ops[k]!));
await stopProfile?.();
const m = (k: string) => Math.round(median(ns[k]!));
const out = {
  ns_per_op: Object.fromEntries(Object.keys(ops).map((k) => [k, m(k)])),
  pool_overhead_ns:
    ns.drizzle_instant && ns.drizzle_pgm_pool ? m('drizzle_pgm_pool') - m('drizzle_instant') : undefined,
  pool_const_overhead_ns: ns.instant_query && ns.pool_const ? m('pool_const') - m('instant_query') : undefined,
  pool_fresh_overhead_ns: ns.fresh_text && ns.pool_fresh ? m('pool_fresh') - m('fresh_text') : undefined,
  pool_dtext_overhead_ns: ns.fresh_dtext && ns.pool_dtext ? m('pool_dtext') - m('fresh_dtext') : undefined,
  facade_overhead_ns: ns.instant_query && ns.facade_query ? m('facade_query') - m('instant_query') : undefined,
};
console.log(JSON.stringify(out));
await pgm.close();
await real.end();
await topo.stop();
