import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniqueName, waitForReplicas, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { type ClusterConfiguration, PgMultiverse, type QueryTracer, type SpanLike } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const { config: shared, passwordRole } = inject('pgmTopology');
const US = uniqueName('fu');
const CS = uniqueName('fc');
const config: ClusterConfiguration = withSchemas(shared, { users_cluster: [US], commerce_cluster: [CS] });
let admin: pg.Pool;
let adminC: pg.Pool;

function poolOf(node: unknown): pg.Pool {
  return typeof node === 'string' ? new pg.Pool({ connectionString: node }) : new pg.Pool(node as pg.PoolConfig);
}

beforeAll(async () => {
  admin = poolOf(shared.users_cluster!.primary);
  adminC = poolOf(shared.commerce_cluster!.primary);
  await admin.query(`CREATE SCHEMA ${US}; CREATE TABLE ${US}.items (id int PRIMARY KEY, name text NOT NULL)`);
  await admin.query(`INSERT INTO ${US}.items VALUES (1, 'one'), (2, 'two')`);
  await adminC.query(
    `CREATE SCHEMA ${CS}; CREATE TABLE ${CS}.ledger (id serial PRIMARY KEY, amount int NOT NULL CHECK (amount >= 0))`,
  );
  // Replicas must see the schema before replica reads of it.
  await waitForReplicas(shared.users_cluster!);
});
afterAll(async () => {
  await admin.end();
  await adminC.end();
});

describe('PgMultiverse lifecycle and switches', () => {
  it('refuses use before initialize and after close, with clear codes', async () => {
    const pgm = new PgMultiverse();
    await expect(pgm.query('SELECT 1')).rejects.toMatchObject({ code: 'NOT_INITIALIZED' });
    await pgm.initialize(config);
    await expect(pgm.initialize(config)).rejects.toMatchObject({ code: 'ALREADY_INITIALIZED' });
    await pgm.close();
    await expect(pgm.query('SELECT 1', [], { schema: US })).rejects.toMatchObject({ code: 'CLOSED' });
  });

  it('reports every configuration problem at initialize, without passwords', async () => {
    const pgm = new PgMultiverse();
    const err = await pgm
      .initialize({
        a: { schemas: ['x'], primary: { host: '127.0.0.1', port: 70000, password: 'hunter22' } },
        b: { schemas: ['x'] },
      } as never)
      .catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'INVALID_CONFIG' });
    expect((err as Error).message).toMatch(/a\.primary\.port/);
    expect((err as Error).message).toMatch(/b\.primary: is required/);
    expect((err as Error).message).not.toContain('hunter22');
  });

  it('never prints a password when a connection fails', async () => {
    const primary = shared.users_cluster!.primary as { host: string; port: number; database?: string };
    const pgm = new PgMultiverse({ cluster: { healthCheckInterval: 60_000 } });
    // A primary that refuses the login fails initialize() itself (see loud-edges.test.ts).
    const err = (await pgm
      .initialize({
        c: { schemas: ['s'], primary: { ...primary, user: passwordRole.user, password: 'wrong-Secret-99' } },
      })
      .catch((e: Error) => e)) as Error & { cause?: unknown; code?: string };
    await pgm.close();
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('CONNECTION_FAILED');
    expect(`${err.message} ${String(err.stack)} ${String((err.cause as Error)?.message)}`).not.toContain(
      'wrong-Secret-99',
    );
  });

  it('a cross-cluster transaction with enableTransactions: false is an error, not a silent non-atomic commit', async () => {
    const pgm = new PgMultiverse({ enableTransactions: false });
    await pgm.initialize(config);
    try {
      await expect(pgm.withTransaction([US, CS], async () => 1)).rejects.toMatchObject({ code: 'FEATURE_DISABLED' });
      // One cluster is still a plain transaction.
      const r = await pgm.withTransaction(
        [US],
        async (tx) =>
          (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM items', [], { schema: US })).rows[0]!.n,
      );
      expect(r).toBe(2);
      await expect(pgm.migrate()).rejects.toMatchObject({ code: 'FEATURE_DISABLED' });
    } finally {
      await pgm.close();
    }
  });

  it('initializes from a JSON file path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgm-cfg-'));
    const file = join(dir, 'clusters.json');
    writeFileSync(file, JSON.stringify({ clusters: config }));
    const pgm = new PgMultiverse();
    await pgm.initialize(file);
    try {
      const r = await pgm.query<{ name: string }>('SELECT name FROM items WHERE id = $1', [1], { schema: US });
      expect(r.rows[0]!.name).toBe('one');
    } finally {
      await pgm.close();
    }
  });
});

describe('metrics, events and tracing', () => {
  it('counts every query, error and cache hit; Prometheus output agrees', async () => {
    const pgm = new PgMultiverse({ enableCache: true });
    await pgm.initialize(config);
    const executed: string[] = [];
    const failed: { duration: number; durationMs: number; errorCode?: string; ok: boolean }[] = [];
    pgm.on('queryExecuted', (e) => {
      executed.push(`${e.clusterId}/${e.nodeId}/${e.kind}`);
      if (!e.ok) failed.push(e);
    });
    try {
      await pgm.query('SELECT * FROM items', [], { schema: US, cache: true });
      await pgm.query('SELECT * FROM items', [], { schema: US, cache: true });
      await pgm.query('SELECT * FROM nope', [], { schema: US }).catch(() => {});
      await pgm.query('INSERT INTO ledger (amount) VALUES (1)', [], { schema: CS });
      const m = pgm.getMetrics();
      expect(m.totalQueries).toBe(4);
      expect(m.totalErrors).toBe(1);
      expect(m.errorRate).toBe(25);
      expect(m.clusters.users_cluster!.queries).toMatchObject({ total: 3, reads: 3, writes: 0, errors: 1, cached: 1 });
      expect(m.clusters.commerce_cluster!.queries).toMatchObject({ total: 1, writes: 1 });
      expect(m.cache).toMatchObject({ hits: 1, misses: 1 });
      expect(m.avgResponseTime).toBeGreaterThan(0);
      expect(executed).toHaveLength(3); // the cache hit ran nothing
      // the documented `duration` rides along with durationMs; a failure carries its SQLSTATE
      expect(failed).toHaveLength(1);
      expect(failed[0]!.duration).toBe(failed[0]!.durationMs);
      expect(failed[0]!.errorCode).toBe('42P01');
      const nodeQueries = Object.values(m.clusters.users_cluster!.nodes).reduce((a, n) => a + n.queries, 0);
      expect(nodeQueries).toBe(2);
      const prom = pgm.getMetrics({ format: 'prometheus' });
      expect(prom).toContain('pgm_queries_total{cluster="users_cluster",kind="read",cached="false"} 2');
      expect(prom).toContain('pgm_queries_total{cluster="users_cluster",kind="read",cached="true"} 1');
      expect(prom).toContain('pgm_query_errors_total{cluster="users_cluster",code="42P01"} 1');
      expect(prom).toContain('pgm_cache_hits_total 1');
    } finally {
      await pgm.close();
    }
  });

  it('metrics switched off are off', async () => {
    const pgm = new PgMultiverse({ enableMetrics: false });
    await pgm.initialize(config);
    try {
      await pgm.query('SELECT 1', [], { schema: US });
      expect(() => pgm.getMetrics()).toThrow(expect.objectContaining({ code: 'FEATURE_DISABLED' }));
    } finally {
      await pgm.close();
    }
  });

  it('opens one span per query with cluster, node, role and cached (any tracer of the QueryTracer shape)', async () => {
    const spans: { name: string; attrs: Record<string, unknown>; ended: boolean; error?: Error }[] = [];
    const tracer: QueryTracer = {
      startSpan(name, options) {
        const s = {
          name,
          attrs: { ...(options?.attributes ?? {}) } as Record<string, unknown>,
          ended: false,
          error: undefined as Error | undefined,
        };
        spans.push(s);
        const span: SpanLike = {
          setAttribute: (k, v) => {
            s.attrs[k] = v;
          },
          recordException: (e) => {
            s.error = e;
          },
          end: () => {
            s.ended = true;
          },
        };
        return span;
      },
    };
    const pgm = new PgMultiverse({ enableCache: true, tracer });
    await pgm.initialize(config);
    try {
      await pgm.query('SELECT * FROM items', [], { schema: US, cache: true });
      await pgm.query('SELECT * FROM items', [], { schema: US, cache: true });
      await pgm.query('INSERT INTO ledger (amount) VALUES (-5)', [], { schema: CS }).catch(() => {});
    } finally {
      await pgm.close();
    }
    expect(spans.map((s) => [s.name, s.attrs['pgm.cluster'], s.attrs['pgm.cached'], s.ended])).toEqual([
      ['SELECT items', 'users_cluster', false, true],
      ['SELECT items', 'users_cluster', true, true],
      ['INSERT ledger', 'commerce_cluster', false, true],
    ]);
    expect(spans[0]!.attrs['pgm.role']).toBe('replica');
    expect(spans[0]!.attrs['pgm.node']).toMatch(/^replica-/);
    expect(spans[2]!.error?.message).toMatch(/check constraint/);
  });
});

describe('caching through the facade', () => {
  it('a write invalidates the cached read; a rolled-back transaction changes nothing visible', async () => {
    const pgm = new PgMultiverse({ enableCache: true });
    await pgm.initialize(config);
    try {
      const read = () =>
        pgm.query<{ name: string }>('SELECT name FROM items WHERE id = 2', [], {
          schema: US,
          cache: true,
          role: 'primary',
        });
      expect((await read()).rows[0]!.name).toBe('two');
      await pgm.query("UPDATE items SET name = 'deux' WHERE id = 2", [], { schema: US });
      expect((await read()).rows[0]!.name).toBe('deux');
      await pgm
        .withTransaction([US], async (tx) => {
          await tx.query("UPDATE items SET name = 'rolled back' WHERE id = 2", [], { schema: US });
          throw new Error('abort');
        })
        .catch(() => {});
      expect((await read()).rows[0]!.name).toBe('deux');
      expect(pgm.getMetrics().cache!.hits).toBe(1);
      await pgm.withTransaction([US, CS], async (tx) => {
        await tx.query("UPDATE items SET name = 'dos' WHERE id = 2", [], { schema: US });
        await tx.query('INSERT INTO ledger (amount) VALUES (2)', [], { schema: CS });
      });
      expect((await read()).rows[0]!.name).toBe('dos');
    } finally {
      await pgm.close();
    }
  });

  it('reads with session consistency see the session write on a lagging-free path', async () => {
    const pgm = new PgMultiverse();
    await pgm.initialize(config);
    try {
      const got = await pgm.runWithSession(async () => {
        await pgm.query("UPDATE items SET name = 'session' WHERE id = 1", [], { schema: US });
        return pgm.query<{ name: string }>('SELECT name FROM items WHERE id = 1', [], {
          schema: US,
          consistency: 'session',
        });
      });
      expect(got.rows[0]!.name).toBe('session');
    } finally {
      await pgm.close();
    }
  });
});

describe('existing pools and clean shutdown', () => {
  it('uses an application pg.Pool for a node and leaves it open on close()', async () => {
    const primary = config.users_cluster!.primary;
    const mine = poolOf(primary);
    const pgm = new PgMultiverse();
    await pgm.initialize(config);
    await pgm.close();
    const pgm2 = new PgMultiverse({ providers: { 'users_cluster/primary': mine } });
    await pgm2.initialize(config);
    await pgm2.query("UPDATE items SET name = 'via my pool' WHERE id = 1", [], { schema: US });
    expect(mine.totalCount).toBeGreaterThan(0);
    await pgm2.close();
    const r = await mine.query(`SELECT name FROM ${US}.items WHERE id = 1`);
    expect(r.rows[0].name).toBe('via my pool');
    await mine.end();
  });

  it('close() leaves no handles: a process exits on its own right after', async () => {
    const script = fileURLToPath(new URL('./fixtures/exit-after-close.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(config), US], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TSX_TSCONFIG_PATH: fileURLToPath(new URL('./fixtures/tsconfig.json', import.meta.url)) },
    });
    let stdout = '';
    let stderr = '';
    // Safety net only, counted from close() (starting tsx on a loaded machine may take long): a process
    // still alive this long after it closed has leaked a handle.
    let killer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!killer && stdout.includes('closed')) killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    clearTimeout(killer);
    expect(stderr).toBe('');
    expect(stdout.trim()).toBe('closed');
    expect(status).toBe(0);
  });
});
