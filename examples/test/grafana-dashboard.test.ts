// The Grafana dashboard against a real Prometheus (Debian's `prometheus`, started here as our own
// process on a free 127.0.0.1 port with its own config and data directory) scraping a running
// facade through metricsHandler(): every PromQL expression of the dashboard must return data.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { type ClusterConfiguration, PgMultiverse } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const { config: shared } = inject('pgmTopology');
const US = uniqueName('gu');
const CS = uniqueName('gc');
const config: ClusterConfiguration = withSchemas(shared, { users_cluster: [US], commerce_cluster: [CS] });
const DASHBOARD = fileURLToPath(new URL('../grafana/pg-multiverse.json', import.meta.url));

let pgm: PgMultiverse;
let server: Server;
let prometheus: ChildProcess | undefined;
let promLog = '';
let dir: string;
let promUrl: string;
let stopLoad = false;
let load: Promise<void> | undefined;

/** Every `expr` in the dashboard (panels, rows' panels, any depth). */
function expressions(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const v of node) expressions(v, out);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'expr' && typeof v === 'string') out.push(v);
      else expressions(v, out);
    }
  }
  return out;
}

/** Grafana's variables as a dashboard user with the defaults would have them. */
function substitute(expr: string): string {
  return expr.replaceAll('$__rate_interval', '15s').replaceAll('$cluster', '.*');
}

async function promQuery(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await res.json()) as { status: string; error?: string; data?: { result: unknown } };
  if (body.status !== 'success') throw new Error(`PromQL ${expr}: ${body.error}`);
  return body.data!.result as { metric: Record<string, string>; value: [number, string] }[];
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(
    `timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\n${promLog.slice(-2000)}`,
  );
}

/** Traffic of every kind the dashboard shows, until stopped (bounded: 10 rounds a second at most). */
async function traffic(): Promise<void> {
  let i = 0;
  while (!stopLoad) {
    i++;
    await Promise.allSettled([
      pgm.query('SELECT count(*) FROM items', [], { schema: US, consistency: 'eventual' }),
      pgm.query('SELECT count(*) FROM items', [], { schema: US, role: 'primary' }),
      pgm.query('SELECT name FROM items WHERE id = 1', [], { schema: US, cache: true, role: 'primary' }),
      pgm.query('INSERT INTO ledger (amount) VALUES (1)', [], { schema: CS }),
      pgm.query('SELECT * FROM missing_table', [], { schema: CS }),
      i % 5 === 0
        ? pgm.withTransaction([US, CS], async (tx) => {
            await tx.query('UPDATE items SET name = name WHERE id = 1', [], { schema: US });
            await tx.query('INSERT INTO ledger (amount) VALUES (2)', [], { schema: CS });
          })
        : Promise.resolve(),
    ]);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  const admin = new pg.Pool(shared.users_cluster!.primary as pg.PoolConfig);
  const adminC = new pg.Pool(shared.commerce_cluster!.primary as pg.PoolConfig);
  await admin.query(`CREATE SCHEMA ${US}; CREATE TABLE ${US}.items (id int PRIMARY KEY, name text NOT NULL)`);
  await admin.query(`INSERT INTO ${US}.items VALUES (1, 'one')`);
  await adminC.query(`CREATE SCHEMA ${CS}; CREATE TABLE ${CS}.ledger (id serial PRIMARY KEY, amount int NOT NULL)`);
  await admin.end();
  await adminC.end();
  pgm = new PgMultiverse({ enableCache: true });
  await pgm.initialize(config);
  server = createServer(pgm.metricsHandler());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const target = `127.0.0.1:${(server.address() as AddressInfo).port}`;

  dir = await mkdtemp(join(tmpdir(), 'pgm-prometheus-'));
  await writeFile(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: pgm',
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ['${target}']`,
      '',
    ].join('\n'),
  );
  // The port was free when picked; another process may bind it before Prometheus does: then it
  // exits, and it is started again on another port.
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    promLog = '';
    const proc = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus = proc;
    const spawned = new Promise<void>((resolve, reject) => {
      proc.once('spawn', resolve);
      proc.once('error', (err) =>
        reject(new Error(`prometheus could not start (.ci/run installs Debian's prometheus package): ${err.message}`)),
      );
    });
    proc.stdout!.on('data', (d) => {
      promLog += d;
    });
    proc.stderr!.on('data', (d) => {
      promLog += d;
    });
    await spawned;
    const ready = await until(
      'prometheus ready',
      async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return 'exited' as const;
        return (await fetch(`${promUrl}/-/ready`)).ok ? ('ready' as const) : undefined;
      },
      180_000,
    );
    if (ready === 'ready') break;
    if (attempt >= 5 || !/address already in use/i.test(promLog)) {
      throw new Error(`prometheus exited before it was ready:\n${promLog.slice(-2000)}`);
    }
  }
  load = traffic();
});

afterAll(async () => {
  stopLoad = true;
  await load;
  if (prometheus && prometheus.exitCode === null) {
    const exited = new Promise((r) => prometheus!.once('exit', r));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await new Promise((r) => server?.close(r));
  await pgm?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('Grafana dashboard against a real Prometheus', () => {
  it('every PromQL expression of examples/grafana/pg-multiverse.json returns data', { timeout: 300_000 }, async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as unknown;
    const exprs = expressions(dashboard);
    expect(exprs.length).toBeGreaterThanOrEqual(15);

    // Scraped and healthy, with enough samples for every rate window.
    await until('the facade scraped', async () => {
      const up = await promQuery('up{job="pgm"}');
      return up[0]?.value[1] === '1' ? true : undefined;
    });
    await until('a two-phase commit counted', async () => {
      const r = await promQuery('increase(pgm_two_phase_commits_total{outcome="committed"}[15s])');
      return Number(r[0]?.value[1]) > 0 ? true : undefined;
    });

    // Every expression, polled together until each has returned data once (or the deadline passes).
    let empty = exprs;
    const deadline = Date.now() + 90_000;
    while (empty.length > 0 && Date.now() < deadline) {
      const results = await Promise.all(empty.map((e) => promQuery(substitute(e)).catch(() => [])));
      empty = empty.filter((_, i) => results[i]!.length === 0);
      if (empty.length > 0) await new Promise((r) => setTimeout(r, 1000));
    }
    expect(empty).toEqual([]);

    // Not only present: the traffic shows in the main panels.
    const qps = await promQuery(
      substitute(exprs.find((e) => e.startsWith('sum by (cluster) (rate(pgm_queries_total'))!),
    );
    expect(qps.map((r) => r.metric.cluster).sort()).toEqual(['commerce_cluster', 'users_cluster']);
    expect(qps.every((r) => Number(r.value[1]) > 0)).toBe(true);
    const p99 = await promQuery(
      substitute(exprs.find((e) => e.startsWith('histogram_quantile(0.99, sum by (cluster, le)'))!),
    );
    expect(p99.some((r) => Number.isFinite(Number(r.value[1])) && Number(r.value[1]) > 0)).toBe(true);
    const errors = await promQuery(substitute(exprs.find((e) => e.includes('pgm_query_errors_total'))!));
    expect(errors.some((r) => r.metric.code === '42P01')).toBe(true);

    // The cluster variable's values (Grafana's label_values(pgm_node_up, cluster)).
    const res = await fetch(`${promUrl}/api/v1/label/cluster/values?match[]=pgm_node_up`);
    const values = ((await res.json()) as { data: string[] }).data;
    expect(values.sort()).toEqual(['commerce_cluster', 'users_cluster']);
  });
});
