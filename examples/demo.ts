// `pnpm demo`: the main job. Starts a local topology (two clusters, the users cluster
// with two streaming replicas), migrates it, and shows routing, balancing, caching,
// a cross-cluster transaction, a replica failure and recovery, and the metrics.
// Stops everything it started.
import { fileURLToPath } from 'node:url';
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import { PgMultiverse } from 'pg-multiverse';

const migrationsPath = fileURLToPath(new URL('./migrations', import.meta.url));
const say = (s = '') => console.log(s);
let current = 'start';
const step = (s: string) => {
  current = s;
  say(`\n== ${s}`);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`demo: timed out waiting for ${what}`);
    await sleep(50);
  }
}

export async function main(): Promise<void> {
  // A demo that stops making progress says where, instead of hanging its caller.
  const watchdog = setTimeout(() => {
    console.error(`demo: still in step "${current}" after 480 s; giving up`);
    process.exit(1);
  }, 480_000);
  watchdog.unref();
  step('Starting a local topology (PostgreSQL primaries + streaming replicas on free ports)');
  let topo: Topology | undefined;
  let pgm: PgMultiverse | undefined;
  try {
    topo = await startTopology({
      clusters: {
        users_cluster: { replicas: 2, schemas: ['users', 'auth', 'profiles'] },
        commerce_cluster: { replicas: 0, schemas: ['products', 'orders', 'payments'] },
      },
    });
    for (const n of topo.nodes) say(`  ${n.clusterId}/${n.id.padEnd(10)} ${n.role.padEnd(8)} 127.0.0.1:${n.port}`);

    pgm = new PgMultiverse({
      enableCache: true,
      enableMigrations: true,
      migrations: { migrationsPath },
      // A stopped node refuses at once; the probe timeout only bounds a hung one (a loaded machine may
      // take seconds to answer a healthy node's probe).
      cluster: { healthCheckInterval: 300, healthCheckTimeout: 5000, maxFailuresBeforeMarkDown: 2 },
    });
    const events: string[] = [];
    for (const name of ['nodeDown', 'nodeUp', 'clusterDown', 'clusterRecovered', 'readFallback'] as const) {
      pgm.on(name, (e: { clusterId?: string; nodeId?: string; reason?: string; downtime?: number }) => {
        events.push(name);
        const where = [e.clusterId, e.nodeId].filter(Boolean).join('/');
        const extra = e.reason ? ` (${e.reason})` : e.downtime !== undefined ? ` after ${e.downtime} ms` : '';
        say(`  event ${name}: ${where}${extra}`);
      });
    }
    await pgm.initialize(topo.config);

    step('Migrations from examples/migrations');
    pgm
      .getMigrationManager()
      .on('migrationCompleted', (d) => say(`  applied ${d.version} on ${d.cluster}/${d.schema} (${d.duration} ms)`));
    await pgm.migrate();
    const status = await pgm.getMigrationStatus();
    say(`  ${status.appliedMigrations} applied, ${status.pendingMigrations} pending`);

    step('Queries routed by schema');
    const served: string[] = [];
    pgm.on('queryExecuted', (e) => served.push(`${e.clusterId}/${e.nodeId}`));
    for (const [schema, sql] of [
      ['users', 'SELECT count(*)::int AS n FROM users'],
      ['products', 'SELECT count(*)::int AS n FROM products'],
      ['orders', 'SELECT count(*)::int AS n FROM orders'],
    ] as const) {
      const r = await pgm.query<{ n: number }>(sql, [], { schema });
      say(`  ${schema.padEnd(9)} -> ${served.at(-1)}  (${r.rows[0]!.n} rows)`);
    }
    const w = await pgm.query('UPDATE users SET active = true WHERE id = 1', [], { schema: 'users' });
    say(`  a write   -> ${served.at(-1)}  (${w.rowCount} row)`);

    step('Reads spread over the replicas');
    served.length = 0;
    for (let i = 0; i < 30; i++) await pgm.query('SELECT 1', [], { schema: 'users' });
    say(`  30 reads: ${JSON.stringify(count(served))}`);

    step('A cached read and its invalidation by a write');
    const read = () =>
      pgm!.query<{ name: string }>('SELECT name FROM products WHERE id = 1', [], { schema: 'products', cache: true });
    let hits = 0;
    pgm.on('cacheHit', () => hits++);
    say(`  read 1: ${(await read()).rows[0]!.name} (miss, from the database)`);
    say(`  read 2: ${(await read()).rows[0]!.name} (${hits === 1 ? 'hit, from the cache' : 'miss'})`);
    await pgm.query("UPDATE products SET name = 'Teapot XL' WHERE id = 1", [], { schema: 'products' });
    say(`  write: UPDATE products ... (invalidates table:products.products)`);
    say(`  read 3: ${(await read()).rows[0]!.name} (${hits === 1 ? 'miss, fresh from the database' : 'hit'})`);

    step('A cross-cluster transaction (two-phase commit)');
    const order = await pgm.withTransaction(['users', 'orders'], async (tx) => {
      await tx.query('UPDATE users SET last_order = now() WHERE id = $1', [1], { schema: 'users' });
      const r = await tx.query<{ id: number }>(
        'INSERT INTO orders (user_id, total) VALUES ($1, $2) RETURNING id',
        [1, 42.5],
        { schema: 'orders' },
      );
      return r.rows[0]!;
    });
    say(`  committed on users_cluster and commerce_cluster: order #${order.id}`);
    await pgm
      .withTransaction(['users', 'orders'], async (tx) => {
        await tx.query('UPDATE users SET name = $1 WHERE id = 1', ['Changed'], { schema: 'users' });
        await tx.query('INSERT INTO orders (user_id, total) VALUES (1, -1)', [], { schema: 'orders' }); // violates CHECK
      })
      .catch((err: Error) => say(`  a failing one rolled back on both clusters: ${err.message.split('\n')[0]}`));
    const name = await pgm.query<{ name: string }>('SELECT name FROM users WHERE id = 1', [], {
      schema: 'users',
      role: 'primary',
    });
    say(`  users.name is still "${name.rows[0]!.name}"`);

    step('A replica dies: traffic moves off it');
    const victim = topo.cluster('users_cluster').replicas[0]!;
    await victim.stop({ mode: 'immediate' });
    say(`  stopped ${victim.clusterId}/${victim.id} (immediate)`);
    served.length = 0;
    let failed = 0;
    const readLoop = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        await pgm!.query('SELECT 1', [], { schema: 'users' }).catch(() => failed++);
        await sleep(5);
      }
    };
    await Promise.all([readLoop(1500), until('nodeDown', () => events.includes('nodeDown'))]);
    served.length = 0;
    await readLoop(500);
    say(`  reads after mark-down: ${JSON.stringify(count(served))}, failed reads: ${failed}`);

    step('The replica comes back');
    await victim.start();
    await until('nodeUp', () => events.includes('nodeUp'));
    served.length = 0;
    for (let i = 0; i < 30; i++) await pgm.query('SELECT 1', [], { schema: 'users' });
    say(`  30 reads: ${JSON.stringify(count(served))}`);

    step('Metrics');
    const m = pgm.getMetrics();
    say(
      `  total queries ${m.totalQueries}, avg ${m.avgResponseTime.toFixed(2)} ms, error rate ${m.errorRate.toFixed(2)}%`,
    );
    for (const [id, c] of Object.entries(m.clusters)) {
      say(
        `  ${id}: ${c.queries.total} queries (${c.queries.reads} reads, ${c.queries.writes} writes, ${c.queries.cached} cached), ${c.connections.total} connections`,
      );
    }
    if (m.cache) say(`  cache: hit rate ${(m.cache.hitRate * 100).toFixed(1)}%, ${m.cache.itemCount} items`);
    say(`  transactions: ${m.transactions.committed} committed, ${m.transactions.rolledBack} rolled back`);
  } finally {
    step('Stopping everything');
    await pgm?.close();
    await topo?.stop();
    clearTimeout(watchdog);
    say('  done');
  }
}

function count(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
