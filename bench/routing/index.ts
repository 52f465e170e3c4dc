// Router overhead: `SELECT $1::int` through createRouter() vs a raw pg.Pool on
// the same server, concurrency 32, interleaved rounds (medians quoted). Then a
// read/write mix (80/20) over a primary and 2 replicas: router vs raw pools
// with the same split done by hand. Then the same `SELECT $1::int` (schema `app`)
// through the router over an application's own ConnectionProvider (a thin
// wrapper over pg.Pool): with `run` delegated to core's poolProvider, and
// without `run` (the router's fallback; plain and pipelined pg clients), each
// with the statements the server receives per query (counted on the clients).
// Nodes are reached directly (no testkit proxy).
//   node --import tsx bench/routing/index.ts
import {
  type ConnectionProvider,
  type PoolLike,
  poolProvider,
  toPgPoolConfig,
  validateConfiguration,
} from '@pg-multiverse/core';
import { createRouter, type Router } from '@pg-multiverse/router';
import { plainPoolProvider, startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { type Figures, measure as measureLoad, median, round2, summarize } from '../lib/load.js';

const CONCURRENCY = 32;
const ROUND_MS = Number(process.env.ROUND_MS ?? 1500);
const ROUNDS = Number(process.env.ROUNDS ?? 10);
const POOL_MAX = 16;

const measure = (op: (i: number) => Promise<unknown>) =>
  measureLoad(op, { concurrency: CONCURRENCY, roundMs: ROUND_MS });

/** Interleaved rounds, alternating which side goes first so load drift does not favour one. */
async function pairs(
  rounds: number,
  a: () => Promise<Figures>,
  b: () => Promise<Figures>,
  outA: Figures[],
  outB: Figures[],
): Promise<void> {
  for (let k = 0; k < rounds; k++) {
    if (k % 2 === 0) {
      outA.push(await a());
      outB.push(await b());
    } else {
      outB.push(await b());
      outA.push(await a());
    }
    console.error(`round ${k + 1}: ${Math.round(outA[k]!.qps)} vs ${Math.round(outB[k]!.qps)} qps`);
  }
}

/** Median ratio b/a of paired rounds, with the spread (min, max) of the per-round ratios. */
function ratios(a: readonly Figures[], b: readonly Figures[]) {
  const r = b.map((x, i) => x.qps / a[i]!.qps);
  return { ratio: round2(median(r)), ratio_min: round2(Math.min(...r)), ratio_max: round2(Math.max(...r)) };
}

/** Statements the server receives: every pg client `query` call is one statement text (one Sync). */
let counting = false;
let statements = 0;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (counting) statements++;
  return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

/** Statements per operation over `n` operations at the bench's concurrency (outside the timed rounds). */
async function statementsPerOp(op: (i: number) => Promise<unknown>, n = 3200): Promise<number> {
  let next = 0;
  statements = 0;
  counting = true;
  const worker = async () => {
    while (next < n) await op(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  counting = false;
  return round2(statements / n);
}

/**
 * An application's own ConnectionProvider: a thin wrapper over pg.Pool (no `run`; testkit's
 * plainPoolProvider). No RESET ALL on release: the router's fallback resets what it set, so the
 * count is the router's own cost.
 */
const thinWrapper = (pool: pg.Pool, id: string) =>
  plainPoolProvider(pool, id, { endPool: false, resetOnRelease: false }) as unknown as ConnectionProvider;

const topo = await startTopology({
  clusters: { main: { replicas: 2, schemas: ['app'] } },
  settings: { max_connections: 200 },
});
let router: Router | undefined;
let mixRouter: Router | undefined;
const providerRouters: Router[] = [];
const raws: pg.Pool[] = [];
try {
  const { primary, replicas } = topo.cluster('main');
  await primary.query('CREATE TABLE app.counters (id int primary key, n int not null default 0)');
  await primary.query('INSERT INTO app.counters SELECT g, 0 FROM generate_series(1, 1000) g');
  for (const r of replicas) await r.waitForCatchUp();
  const direct = (h: typeof primary) => ({ ...h.connection, port: h.serverPort });
  // The baseline pool gets exactly the settings the router gives its own pools (core's toPgPoolConfig:
  // max, idle and connection timeouts, application_name), so only the routing layer differs.
  const pool = (h: typeof primary, extra: Record<string, unknown> = {}) => {
    const node = validateConfiguration(
      { b: { schemas: ['app'], primary: direct(h) } },
      { connectionPool: { max: POOL_MAX } },
    ).clusters.b!.primary;
    const p = new pg.Pool({ ...(toPgPoolConfig(node) as pg.PoolConfig), ...extra });
    p.on('error', () => undefined);
    raws.push(p);
    return p;
  };

  // 1. SELECT $1::int on one server.
  router = createRouter(
    { main: { schemas: ['app'], primary: direct(primary) } },
    { connectionPool: { max: POOL_MAX } },
  );
  await router.start();
  const raw = pool(primary);
  const r1 = router;
  const rawRuns: Figures[] = [];
  const routerRuns: Figures[] = [];
  await measure((i) => raw.query('SELECT $1::int', [i])); // warm-up
  await measure((i) => r1.query('SELECT $1::int', [i], { schema: 'app' }));
  await pairs(
    ROUNDS,
    () => measure((i) => raw.query('SELECT $1::int', [i])),
    () => measure((i) => r1.query('SELECT $1::int', [i], { schema: 'app' })),
    rawRuns,
    routerRuns,
  );
  const select = { raw: summarize(rawRuns), router: summarize(routerRuns) };
  const selectRatios = ratios(rawRuns, routerRuns);
  const ratio = selectRatios.ratio;
  console.log(
    JSON.stringify({
      part: 'select',
      ...select,
      ...selectRatios,
      statements_per_query: {
        raw: await statementsPerOp((i) => raw.query('SELECT $1::int', [i])),
        router: await statementsPerOp((i) => r1.query('SELECT $1::int', [i], { schema: 'app' })),
      },
    }),
  );

  // 2. 80% reads / 20% writes over primary + 2 replicas.
  mixRouter = createRouter(
    {
      main: {
        schemas: ['app'],
        primary: direct(primary),
        replicas: replicas.map(direct),
      },
    },
    { connectionPool: { max: POOL_MAX } },
  );
  await mixRouter.start();
  const m = mixRouter;
  const rawPrimary = pool(primary);
  const rawReplicas = replicas.map((r) => pool(r));
  const READ = 'SELECT n FROM app.counters WHERE id = $1';
  const WRITE = 'UPDATE app.counters SET n = n + 1 WHERE id = $1';
  const rawMix = (i: number) =>
    i % 5 === 0
      ? rawPrimary.query(WRITE, [(i % 1000) + 1])
      : rawReplicas[i % rawReplicas.length]!.query(READ, [(i % 1000) + 1]);
  const routerMix = (i: number) => m.query(i % 5 === 0 ? WRITE : READ, [(i % 1000) + 1], { schema: 'app' });
  const rawMixRuns: Figures[] = [];
  const routerMixRuns: Figures[] = [];
  await measure(rawMix);
  await measure(routerMix);
  await pairs(
    ROUNDS,
    () => measure(rawMix),
    () => measure(routerMix),
    rawMixRuns,
    routerMixRuns,
  );
  const mixed = { raw: summarize(rawMixRuns), router: summarize(routerMixRuns) };
  const mixedRatios = ratios(rawMixRuns, routerMixRuns);
  const mixedRatio = mixedRatios.ratio;
  console.log(JSON.stringify({ part: 'mixed', ...mixed, ...mixedRatios }));

  // 3. SELECT $1::int (schema `app`) through the router over an application's own ConnectionProvider.
  const variants: [string, () => ConnectionProvider][] = [
    // The application's own object (say, for instrumentation) hands every member, `run` included, to
    // core's poolProvider over its pg.Pool: one statement per query.
    [
      'own object delegating to poolProvider (with run)',
      () => {
        const inner = poolProvider(pool(primary) as unknown as PoolLike, 'main/primary', { ownsPool: false });
        return {
          id: 'main/primary',
          query: (text, values) => inner.query(text, values),
          run: (text, values, session, settled) => inner.run!(text, values, session, settled),
          withConnection: (fn) => inner.withConnection(fn),
          stats: () => inner.stats(),
          end: () => inner.end(),
        } satisfies ConnectionProvider;
      },
    ],
    ['thin wrapper without run (fallback)', () => thinWrapper(pool(primary), 'main/primary')],
    [
      'thin wrapper without run, pg pipeline: true',
      () => thinWrapper(pool(primary, { pipeline: true }), 'main/primary'),
    ],
  ];
  for (const [variant, make] of variants) {
    const pr = createRouter(
      { main: { schemas: ['app'], primary: direct(primary) } },
      { connectionPool: { max: POOL_MAX }, providers: { 'main/primary': make() } },
    );
    providerRouters.push(pr);
    await pr.start();
    const viaProvider = (i: number) => pr.query('SELECT $1::int', [i], { schema: 'app' });
    const rawP: Figures[] = [];
    const provP: Figures[] = [];
    await measure(viaProvider);
    await pairs(
      ROUNDS,
      () => measure((i) => raw.query('SELECT $1::int', [i])),
      () => measure(viaProvider),
      rawP,
      provP,
    );
    console.log(
      JSON.stringify({
        part: 'custom_provider',
        variant,
        raw: summarize(rawP),
        router: summarize(provP),
        ...ratios(rawP, provP),
        statements_per_query: { raw: 1, router: await statementsPerOp(viaProvider) },
      }),
    );
  }

  console.log(
    JSON.stringify({
      bench: 'routing',
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      round_ms: ROUND_MS,
      raw_qps: select.raw.qps,
      router_qps: select.router.qps,
      raw_p50_ms: select.raw.p50_ms,
      raw_p99_ms: select.raw.p99_ms,
      router_p50_ms: select.router.p50_ms,
      router_p99_ms: select.router.p99_ms,
      mixed_raw_qps: mixed.raw.qps,
      mixed_router_qps: mixed.router.qps,
      mixed_router_p50_ms: mixed.router.p50_ms,
      mixed_router_p99_ms: mixed.router.p99_ms,
      mixed_ratio: mixedRatio,
      ratio,
    }),
  );
} finally {
  await router?.close();
  await mixRouter?.close();
  for (const pr of providerRouters) await pr.close();
  await Promise.all(raws.map((p) => p.end()));
  await topo.stop();
}
