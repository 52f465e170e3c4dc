// Transactions per second of pg-multiverse/tx, same run, same servers (two clusters, one
// primary each, connected directly). Every transaction updates one random row per cluster:
//   raw            BEGIN; UPDATE; COMMIT on one pg.Pool                          (one cluster, the physical limit)
//   single         tm.withTransaction([one schema])   -> plain BEGIN/COMMIT
//   cross          tm.withTransaction([two schemas])  -> atomic commit over two clusters
//   raw_2pc        the best hand-written atomic commit over two pg clients (pipeline mode):
//                  BEGIN+UPDATE pipelined on c1, then on c2 (the callback's order), PREPARE on both
//                  in parallel, a durable decision row (synchronous_commit on) on c1, COMMIT PREPARED
//                  on both in parallel
//   raw_two_plain  the same statements as two plain transactions, not atomic: BEGIN+UPDATE pipelined
//                  on c1, then on c2, COMMIT on both in parallel (the cost of doing nothing right)
// Each round runs every variant for DURATION_MS at a concurrency, the order rotated round by round;
// medians of ROUNDS with the spread (min, max) of the per-round ratios. Concurrencies: CONCURRENCY
// (comma-separated, default "1,16"). Before the rounds, one counted pass per variant at concurrency 1
// gives the round trips on its critical path (`round_trips`) and the statements it sends.
//   node --import tsx bench/tx/index.ts
import { PgmError, poolProvider } from '@pg-multiverse/core';
import { startTopology } from '@pg-multiverse/testkit';
import { createTransactionManager } from '@pg-multiverse/tx';
import pg from 'pg';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DURATION_MS = Number(process.env.DURATION_MS ?? 3000);
const CONCURRENCIES = (process.env.CONCURRENCY ?? '1,16').split(',').map(Number);
const MAX_CONCURRENCY = Math.max(...CONCURRENCIES);
const ROWS = 1000;
const COUNTED_OPS = 50;

/**
 * Round trips: every pg client `query` call is one message with its own Sync; calls that overlap
 * in time (parallel on several connections, or pipelined on one) share a round trip. At
 * concurrency 1 the number of times the count of statements in flight rises from 0 is the number
 * of round trips on the transaction's critical path.
 */
let counting = false;
let inFlight = 0;
let waves = 0;
let statements = 0;
const clientQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  if (!counting) return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  statements++;
  if (inFlight++ === 0) waves++;
  const last = args.length - 1;
  const submittable = args[0] as { submit?: unknown; callback?: (...a: unknown[]) => void };
  if (typeof submittable?.submit === 'function') {
    // A custom query (core's pipeline: a prelude and a statement in one round trip) reports through its callback.
    const cb = submittable.callback;
    submittable.callback = (...a: unknown[]) => {
      inFlight--;
      cb?.(...a);
    };
    return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  }
  if (typeof args[last] === 'function') {
    const cb = args[last] as (...a: unknown[]) => void;
    args[last] = (...a: unknown[]) => {
      inFlight--;
      cb(...a);
    };
    return (clientQuery as (...a: unknown[]) => unknown).apply(this, args);
  }
  const p = (clientQuery as (...a: unknown[]) => Promise<unknown>).apply(this, args);
  void p.then(
    () => inFlight--,
    () => inFlight--,
  );
  return p;
} as typeof pg.Client.prototype.query;

const topo = await startTopology({ clusters: { c1: { schemas: ['sa'] }, c2: { schemas: ['sb'] } } });
try {
  const pool = (id: 'c1' | 'c2', pipeline = false) => {
    // Straight to the server, not through the testkit's fault-injection proxy (which runs in this process).
    const c = topo.config[id]!.primary;
    const node = topo.cluster(id).primary;
    const p = new pg.Pool({
      host: node.host,
      port: node.serverPort,
      database: c.database,
      user: c.user,
      max: MAX_CONCURRENCY,
      ...(pipeline ? { pipeline: true } : {}),
    });
    p.on('error', () => undefined); // idle connections ended when the topology stops
    return p;
  };
  const pools = { c1: pool('c1'), c2: pool('c2') };
  const raw = pool('c1');
  const piped = { c1: pool('c1', true), c2: pool('c2', true) };
  for (const [id, schema] of [
    ['c1', 'sa'],
    ['c2', 'sb'],
  ] as const) {
    await pools[id].query(`CREATE TABLE ${schema}.acc (id int PRIMARY KEY, balance bigint NOT NULL)`);
    await pools[id].query(`INSERT INTO ${schema}.acc SELECT g, 0 FROM generate_series(1, ${ROWS}) g`);
  }
  // The hand-written 2PC's decision table, on c1 (like the engine's).
  await pools.c1.query('CREATE TABLE public.raw_decisions (txid text PRIMARY KEY, decision text NOT NULL)');
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
  let seq = 0;
  /** BEGIN and the first statement pipelined on a pipeline-mode client: one round trip. */
  const beginWith = (c: pg.PoolClient, sql: string, values: unknown[]) =>
    Promise.all([c.query('BEGIN'), c.query(sql, values)]);
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
    raw_2pc: async () => {
      const a = await piped.c1.connect();
      const b = await piped.c2.connect();
      const txid = `raw-${process.pid}-${++seq}`;
      let prepared = false;
      try {
        await beginWith(a, 'UPDATE sa.acc SET balance = balance - 1 WHERE id = $1', [key()]);
        await beginWith(b, 'UPDATE sb.acc SET balance = balance + 1 WHERE id = $1', [key()]);
        await Promise.all([a.query(`PREPARE TRANSACTION '${txid}:1'`), b.query(`PREPARE TRANSACTION '${txid}:2'`)]);
        prepared = true;
        await a.query(
          `INSERT INTO public.raw_decisions (txid, decision)
           SELECT $1, 'commit' FROM (SELECT set_config('synchronous_commit', 'on', true)) AS durable`,
          [txid],
        );
        await Promise.all([a.query(`COMMIT PREPARED '${txid}:1'`), b.query(`COMMIT PREPARED '${txid}:2'`)]);
      } catch (err) {
        if (!prepared) await Promise.all([a.query('ROLLBACK'), b.query('ROLLBACK')]).catch(() => undefined);
        throw err;
      } finally {
        a.release();
        b.release();
      }
    },
    raw_two_plain: async () => {
      const a = await piped.c1.connect();
      const b = await piped.c2.connect();
      try {
        await beginWith(a, 'UPDATE sa.acc SET balance = balance - 1 WHERE id = $1', [key()]);
        await beginWith(b, 'UPDATE sb.acc SET balance = balance + 1 WHERE id = $1', [key()]);
        await Promise.all([a.query('COMMIT'), b.query('COMMIT')]);
      } catch (err) {
        await Promise.all([a.query('ROLLBACK'), b.query('ROLLBACK')]).catch(() => undefined);
        throw err;
      } finally {
        a.release();
        b.release();
      }
    },
  };
  const names = Object.keys(variants);

  // Round trips and statements per transaction, at concurrency 1 (after a warm-up, so pools are open).
  const roundTrips: Record<string, number> = {};
  const statementsPerTx: Record<string, number> = {};
  for (const [name, fn] of Object.entries(variants)) {
    await fn();
    waves = 0;
    statements = 0;
    counting = true;
    for (let i = 0; i < COUNTED_OPS; i++) await fn();
    counting = false;
    roundTrips[name] = Math.round((waves / COUNTED_OPS) * 100) / 100;
    statementsPerTx[name] = Math.round((statements / COUNTED_OPS) * 100) / 100;
  }
  console.error(`round trips per transaction (concurrency 1): ${JSON.stringify(roundTrips)}`);
  console.error(`statements per transaction: ${JSON.stringify(statementsPerTx)}`);

  const measure = async (fn: () => Promise<unknown>, concurrency: number, ms: number) => {
    let done = 0;
    let failed = 0;
    const end = performance.now() + ms;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
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
  const median = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)]!;
  };
  const r3 = (x: number) => Number(x.toFixed(3));
  /** Median of per-round ratios a/b with their spread. */
  const ratio = (runs: Record<string, number[]>, a: string, b: string) => {
    const rs = runs[a]!.map((x, i) => x / runs[b]![i]!);
    return { median: r3(median(rs)), min: r3(Math.min(...rs)), max: r3(Math.max(...rs)) };
  };

  const byConcurrency: Record<string, unknown> = {};
  let failures = 0;
  for (const concurrency of CONCURRENCIES) {
    const ms = DURATION_MS;
    const runs: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    for (const fn of Object.values(variants)) await measure(fn, concurrency, Math.min(ms, 1000)); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      // Rotate the order each round so no variant always runs after the same one.
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const name of order) {
        const m = await measure(variants[name]!, concurrency, ms);
        runs[name]!.push(m.tps);
        failures += m.failed;
      }
    }
    const tps = Object.fromEntries(names.map((n) => [n, Math.round(median(runs[n]!))]));
    const figures = {
      tps,
      cross_vs_raw_2pc: ratio(runs, 'cross', 'raw_2pc'),
      cross_vs_single: ratio(runs, 'cross', 'single'),
      cross_vs_raw_two_plain: ratio(runs, 'cross', 'raw_two_plain'),
      single_vs_raw: ratio(runs, 'single', 'raw'),
      cross_vs_raw: ratio(runs, 'cross', 'raw'),
      // The floors against the same one-cluster transaction: what a hand-written atomic commit, and two plain
      // non-atomic transactions, reach against it. cross_vs_single cannot be better than these allow.
      raw_2pc_vs_single: ratio(runs, 'raw_2pc', 'single'),
      raw_two_plain_vs_single: ratio(runs, 'raw_two_plain', 'single'),
    };
    byConcurrency[`c${concurrency}`] = figures;
    console.error(`concurrency ${concurrency}: ${JSON.stringify(figures)}`);
  }
  await tm.close();
  await Promise.all([pools.c1.end(), pools.c2.end(), raw.end(), piped.c1.end(), piped.c2.end()]);
  const first = byConcurrency[`c${CONCURRENCIES[0]}`] as { cross_vs_raw_2pc: { median: number } };
  console.log(
    JSON.stringify({
      bench: 'tx',
      rounds: ROUNDS,
      duration_ms: DURATION_MS,
      round_trips: roundTrips,
      statements: statementsPerTx,
      ...byConcurrency,
      failures,
      ratio: first.cross_vs_raw_2pc.median,
    }),
  );
} finally {
  await topo.stop();
}
