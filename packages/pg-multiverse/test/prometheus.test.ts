// The Prometheus exposition: promtool-clean, a seconds histogram per (cluster, node, role, kind),
// counters and gauges, served by metricsHandler() over node:http. Shared topology.
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTopology, uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { type ClusterConfiguration, PgMultiverse, PROMETHEUS_CONTENT_TYPE } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const { config: shared } = inject('pgmTopology');
const US = uniqueName('pu');
const CS = uniqueName('pc');
const config: ClusterConfiguration = withSchemas(shared, { users_cluster: [US], commerce_cluster: [CS] });
let pgm: PgMultiverse;
let server: Server;
let url: string;

beforeAll(async () => {
  const admin = new pg.Pool(shared.users_cluster!.primary as pg.PoolConfig);
  const adminC = new pg.Pool(shared.commerce_cluster!.primary as pg.PoolConfig);
  await admin.query(`CREATE SCHEMA ${US}; CREATE TABLE ${US}.items (id int PRIMARY KEY, name text NOT NULL)`);
  await admin.query(`INSERT INTO ${US}.items VALUES (1, 'one')`);
  await adminC.query(
    `CREATE SCHEMA ${CS}; CREATE TABLE ${CS}.ledger (id int PRIMARY KEY, amount int CHECK (amount >= 0))`,
  );
  await admin.end();
  await adminC.end();
  pgm = new PgMultiverse({ enableCache: true });
  await pgm.initialize(config);
  server = createServer(pgm.metricsHandler());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
});
afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await pgm?.close();
});

/** `promtool check metrics` on the text: its exit code and everything it printed. */
function promtool(text: string): { status: number | null; output: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool could not run (install Debian's prometheus package): ${r.error.message}`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/** The value of the one sample `name{labels}` (labels in any order), or undefined. */
function value(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (
      Object.entries(labels).every(([k, v]) => got[k] === v) &&
      Object.keys(got).length === Object.keys(labels).length
    )
      return Number(m[3]);
  }
  return undefined;
}

describe('Prometheus metrics', () => {
  it('served over node:http, promtool-clean, with the histogram, counters and gauges', async () => {
    await pgm.query('SELECT * FROM items', [], { schema: US, consistency: 'eventual' }).catch(() => undefined);
    await pgm.query('SELECT * FROM items', [], { schema: US, role: 'primary' });
    await pgm.query('SELECT name FROM items WHERE id = 1', [], { schema: US, cache: true, role: 'primary' });
    await pgm.query('SELECT name FROM items WHERE id = 1', [], { schema: US, cache: true, role: 'primary' });
    await pgm.query('INSERT INTO ledger VALUES (1, 1)', [], { schema: CS });
    await pgm.query('INSERT INTO ledger VALUES (2, -1)', [], { schema: CS }).catch(() => undefined);
    await pgm.withTransaction([US, CS], async (tx) => {
      await tx.query('INSERT INTO items VALUES (2, $1)', ['two'], { schema: US });
      await tx.query('INSERT INTO ledger VALUES (3, 3)', [], { schema: CS });
    });
    // A two-phase commit whose PREPARE is refused (a temporary table cannot be prepared): rolled back.
    await expect(
      pgm.withTransaction([US, CS], async (tx) => {
        await tx.query('INSERT INTO items VALUES (4, $1)', ['four'], { schema: US });
        await tx.query('CREATE TEMP TABLE scratch (x int)', [], { schema: CS });
      }),
    ).rejects.toThrow(/temporary/);

    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    const text = await res.text();
    const check = promtool(text);
    expect(check.output).toBe('');
    expect(check.status).toBe(0);

    // Histogram in seconds: buckets cumulative, +Inf = _count, by cluster, node, role, kind.
    const primaryRead = { cluster: 'users_cluster', node: 'primary', role: 'primary', kind: 'read' };
    const count = value(text, 'pgm_query_duration_seconds_count', primaryRead)!;
    expect(count).toBeGreaterThanOrEqual(2); // the primary read and the cache fill
    expect(value(text, 'pgm_query_duration_seconds_bucket', { ...primaryRead, le: '+Inf' })).toBe(count);
    expect(value(text, 'pgm_query_duration_seconds_bucket', { ...primaryRead, le: '10' })).toBe(count);
    expect(value(text, 'pgm_query_duration_seconds_sum', primaryRead)).toBeGreaterThan(0);
    expect(value(text, 'pgm_query_duration_seconds_sum', primaryRead)).toBeLessThan(count * 10);
    const write = { cluster: 'commerce_cluster', node: 'primary', role: 'primary', kind: 'write' };
    expect(value(text, 'pgm_query_duration_seconds_count', write)).toBeGreaterThanOrEqual(2);

    expect(value(text, 'pgm_queries_total', { cluster: 'users_cluster', kind: 'read', cached: 'true' })).toBe(1);
    expect(value(text, 'pgm_query_errors_total', { cluster: 'commerce_cluster', code: '23514' })).toBe(1);
    expect(value(text, 'pgm_cache_hits_total', {})).toBe(1);
    expect(value(text, 'pgm_cache_misses_total', {})).toBe(1);
    expect(value(text, 'pgm_query_retries_total', { cluster: 'users_cluster' })).toBe(0);
    expect(
      value(text, 'pgm_node_transitions_total', { cluster: 'users_cluster', node: 'replica-1', direction: 'down' }),
    ).toBe(0);
    expect(value(text, 'pgm_two_phase_commits_total', { outcome: 'committed' })).toBe(1);
    expect(value(text, 'pgm_two_phase_commits_total', { outcome: 'rolled_back' })).toBe(1);
    expect(value(text, 'pgm_two_phase_commits_total', { outcome: 'recovered_commit' })).toBe(0);
    expect(value(text, 'pgm_transactions_total', { outcome: 'committed' })).toBe(1);
    expect(value(text, 'pgm_transactions_total', { outcome: 'rolled_back' })).toBe(1);
    expect(value(text, 'pgm_node_up', { cluster: 'users_cluster', node: 'replica-2', role: 'replica' })).toBe(1);
    expect(
      value(text, 'pgm_replica_lag_seconds', { cluster: 'users_cluster', node: 'replica-1' }),
    ).toBeGreaterThanOrEqual(0);
    expect(
      value(text, 'pgm_replica_lag_bytes', { cluster: 'users_cluster', node: 'replica-1' }),
    ).toBeGreaterThanOrEqual(0);
    expect(value(text, 'pgm_pool_connections_max', { cluster: 'commerce_cluster', node: 'primary' })).toBe(10);
    expect(
      value(text, 'pgm_pool_connections_idle', { cluster: 'commerce_cluster', node: 'primary' }),
    ).toBeGreaterThanOrEqual(1);
    expect(value(text, 'pgm_pool_clients_waiting', { cluster: 'commerce_cluster', node: 'primary' })).toBe(0);
    expect(value(text, 'pgm_pool_connections_in_use', { cluster: 'commerce_cluster', node: 'primary' })).toBe(0);
    // The old millisecond average gauge is gone; no parameter or password is in the text.
    expect(text).not.toMatch(/_ms\b|_ms_avg/);
    expect(text).not.toContain('param-3f9c1e');

    expect((await fetch(url, { method: 'HEAD' })).status).toBe(200);
    const post = await fetch(url, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('metricsHandler() with metrics off is refused; a closed instance answers 503', async () => {
    const off = new PgMultiverse({ enableMetrics: false });
    expect(() => off.metricsHandler()).toThrow(expect.objectContaining({ code: 'FEATURE_DISABLED' }));
    const closed = new PgMultiverse();
    await closed.initialize(config);
    const handler = closed.metricsHandler();
    await closed.close();
    const s = createServer(handler);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(s.address() as AddressInfo).port}/metrics`);
      expect(res.status).toBe(503);
      expect(await res.text()).toMatch(/closed/);
    } finally {
      await new Promise((r) => s.close(r));
    }
  });

  it('a retried read; a replica refused, then back: node_up 0 then 1, one down and one up transition', async () => {
    const topo = await startTopology({ clusters: { main: { replicas: 1, schemas: ['app'] } } });
    const own = new PgMultiverse({ cluster: { healthCheckInterval: 200 } });
    try {
      await own.initialize(topo.config);
      const prom = () => own.getMetrics({ format: 'prometheus' });
      const replica = { cluster: 'main', node: 'replica-1' };
      const waitFor = async (what: string, ok: () => boolean) => {
        for (let i = 0; i < 600 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
        if (!ok()) throw new Error(`timed out waiting for ${what}`);
      };
      expect(value(prom(), 'pgm_node_up', { ...replica, role: 'replica' })).toBe(1);
      // A read whose session is terminated (57P01) is retried once on another node, where it dies again.
      const kill = own.query('SELECT pg_terminate_backend(pg_backend_pid())', [], { consistency: 'eventual' });
      await expect(kill).rejects.toThrow();
      expect(value(prom(), 'pgm_query_retries_total', { cluster: 'main' })).toBe(1);
      expect(value(prom(), 'pgm_query_errors_total', { cluster: 'main', code: '57P01' })).toBe(1);
      topo.cluster('main').replicas[0]!.proxy.refuse();
      const transitions = (direction: string) => value(prom(), 'pgm_node_transitions_total', { ...replica, direction });
      await waitFor('replica-1 marked down', () => transitions('down') === 1);
      expect(value(prom(), 'pgm_node_up', { ...replica, role: 'replica' })).toBe(0);
      expect(transitions('up')).toBe(0);
      topo.cluster('main').replicas[0]!.proxy.restore();
      await waitFor('replica-1 up again', () => transitions('up') === 1);
      await waitFor('replica-1 healthy', () => value(prom(), 'pgm_node_up', { ...replica, role: 'replica' }) === 1);
      expect(transitions('down')).toBe(1);
      expect(promtool(prom()).status).toBe(0);
    } finally {
      await own.close();
      await topo.stop();
    }
  });
});
