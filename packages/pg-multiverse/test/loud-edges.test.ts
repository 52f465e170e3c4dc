import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort, startTopology, type Topology, uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { type ClusterConfiguration, type NodeConnectionConfig, PgMultiverse, type PgmError } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// Issue 15: a broken deploy fails at start, bad settings are refused, errors say what failed.
const { config: shared, passwordRole, redisUrl } = inject('pgmTopology');
const sharedPrimary = shared.users_cluster!.primary as NodeConnectionConfig & { host: string; port: number };
const FAST = { cluster: { healthCheckInterval: 60_000 } };
/** A postgresql.conf string value. */
const confString = (v: string) => `'${v.replace(/'/g, "''")}'`;

async function failure(p: Promise<unknown>): Promise<PgmError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e, 'expected a rejection').toBeInstanceOf(Error);
  return e as PgmError;
}

/** The message, causes and details of an error: where a secret must never be. */
function everything(e: unknown): string {
  const parts: string[] = [];
  let c: unknown = e;
  for (let i = 0; i < 5 && c; i++) {
    parts.push(String((c as Error).message), String((c as Error).stack), JSON.stringify((c as PgmError).details ?? {}));
    c = (c as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

describe('item 1: max_prepared_transactions = 0 (the server default)', () => {
  let topo: Topology;
  const A = uniqueName('pa');
  const B = uniqueName('pb');
  const secret = 'Top-Secret-pw-1';
  let config: ClusterConfiguration;

  beforeAll(async () => {
    topo = await startTopology({
      clusters: { a: { replicas: 1, schemas: [A] }, b: { replicas: 0, schemas: [B] } },
      auth: 'password',
      password: secret,
      settings: { max_prepared_transactions: 0 },
      // A replica copied from the running primary carries its max_prepared_transactions = 0 (the template has 32).
      replicaMethod: 'basebackup',
    });
    config = topo.config as ClusterConfiguration;
    await topo.cluster('a').primary.query(`CREATE TABLE ${A}.t (id int PRIMARY KEY)`);
    await topo.cluster('b').primary.query(`CREATE TABLE ${B}.t (id int PRIMARY KEY)`);
    await topo.cluster('a').replicas[0]!.waitForCatchUp();
  });
  afterAll(async () => {
    await topo?.stop();
  });

  it('initialize works, plain queries and one-cluster transactions work, a cross-cluster transaction is refused when attempted', async () => {
    const pgm = new PgMultiverse(FAST);
    const warnings: { code: string; participants?: string[]; message: string }[] = [];
    pgm.on('warning', (w) => warnings.push(w));
    await pgm.initialize(config);
    try {
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({ code: 'PREPARED_TRANSACTIONS_DISABLED', participants: ['a', 'b'] });
      expect(warnings[0]!.message).toContain('max_prepared_transactions');

      await pgm.query('INSERT INTO t VALUES (1)', [], { schema: A });
      await pgm.query('INSERT INTO t VALUES (1)', [], { schema: B });
      const n = await pgm.withTransaction([A], async (tx) => {
        await tx.query('INSERT INTO t VALUES (2)', [], { schema: A });
        return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM t', [], { schema: A })).rows[0]!.n;
      });
      expect(n).toBe(2);

      let ran = false;
      const e = await failure(
        pgm.withTransaction([A, B], async () => {
          ran = true;
        }),
      );
      expect(ran).toBe(false);
      expect(e.code).toBe('PREPARED_TRANSACTIONS_DISABLED');
      expect(e.message).toMatch(/Cluster "a" has max_prepared_transactions = 0/);
      expect(e.message).toContain('Set max_prepared_transactions');
      expect(everything(e)).not.toContain(secret);
      // Still one warning: it is emitted once, at start.
      expect(warnings).toHaveLength(1);
    } finally {
      await pgm.close();
    }
  });

  it('an unreachable replica at start is reported and marked down, not fatal; a stopped replica reports lag unknown', async () => {
    const replica = topo.cluster('a').replicas[0]!;
    replica.proxy.refuse();
    const pgm = new PgMultiverse(FAST);
    const down: { clusterId: string; nodeId: string; reason: string }[] = [];
    pgm.on('nodeDown', (e) => down.push(e));
    try {
      await pgm.initialize(config);
      expect(down).toEqual([expect.objectContaining({ clusterId: 'a', nodeId: 'replica-1' })]);
      expect(down[0]!.reason).toMatch(/replica a\/replica-1 \(postgres:\/\/pgm:\*\*\*@127\.0\.0\.1:\d+\/postgres\)/);
      expect(down[0]!.reason).not.toContain(secret);
      const health = await pgm.healthCheck();
      expect(health.a!.healthy).toBe(true);
      const node = health.a!.nodes['replica-1']!;
      expect(node.healthy).toBe(false);
      expect(node.error).toBeTruthy();
      expect(node.lagMs).toBeUndefined();
      expect(node.lagBytes).toBeUndefined();
      // Reads still work (the primary answers).
      const r = await pgm.query<{ n: number }>('SELECT count(*)::int AS n FROM t', [], { schema: A });
      expect(r.rows[0]!.n).toBeGreaterThan(0);
    } finally {
      replica.proxy.restore();
      await pgm.close();
    }

    // A replica that was up and then stopped: lag unknown, not 0.
    await replica.waitForCatchUp();
    const pgm2 = new PgMultiverse(FAST);
    await pgm2.initialize(config);
    try {
      expect((await pgm2.healthCheck()).a!.nodes['replica-1']!.lagMs).toEqual(expect.any(Number));
      await replica.stop({ mode: 'fast' });
      const after = (await pgm2.healthCheck()).a!.nodes['replica-1']!;
      expect(after.healthy).toBe(false);
      expect(after.lagMs).toBeUndefined();
    } finally {
      await pgm2.close();
      await replica.start();
    }
  });
});

describe('item 2 and 5: a primary that cannot be reached or authenticated fails initialize with CONNECTION_FAILED', () => {
  const cluster = (primary: NodeConfigLike): ClusterConfiguration => ({ c: { schemas: ['s'], primary } });
  type NodeConfigLike = NodeConnectionConfig;

  it('a wrong password: 28P01, the node named, the password never shown', async () => {
    const wrong = 'wrong-Secret-99';
    const pgm = new PgMultiverse(FAST);
    const e = await failure(pgm.initialize(cluster({ ...sharedPrimary, user: passwordRole.user, password: wrong })));
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(e.sqlState).toBe('28P01');
    expect(e.nodeId).toBe('primary');
    expect(e.message).toContain(
      `Cannot connect to primary c/primary (postgres://pgm:***@127.0.0.1:${sharedPrimary.port}/`,
    );
    expect(e.message).toContain('[28P01]');
    expect(e.message).toMatch(/password authentication failed/);
    expect(everything(e)).not.toContain(wrong);
  });

  it('a throwing password callback', async () => {
    const pgm = new PgMultiverse(FAST);
    const e = await failure(
      pgm.initialize(
        cluster({
          ...sharedPrimary,
          user: passwordRole.user,
          password: () => {
            throw new Error('vault unreachable');
          },
        }),
      ),
    );
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(e.message).toContain('c/primary');
    expect(e.message).toContain('vault unreachable');
  });

  it('an unreachable port: ECONNREFUSED kept', async () => {
    const port = await freePort();
    const pgm = new PgMultiverse(FAST);
    const e = await failure(
      pgm.initialize(cluster({ host: '127.0.0.1', port, user: 'app', password: 'Port-Secret-7', database: 'x' })),
    );
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(e.details).toMatchObject({ systemCode: 'ECONNREFUSED' });
    expect(e.message).toContain(`c/primary (postgres://app:***@127.0.0.1:${port}/x)`);
    expect(everything(e)).not.toContain('Port-Secret-7');
  });

  it('a host name that does not resolve', async () => {
    const pgm = new PgMultiverse(FAST);
    const e = await failure(pgm.initialize(cluster({ host: 'pgm-no-such-host.invalid', port: 5432, user: 'app' })));
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(String(e.details?.systemCode)).toMatch(/^(ENOTFOUND|EAI_AGAIN|EAI_FAIL)$/);
    expect(e.message).toContain('pgm-no-such-host.invalid');
  });

  it('several clusters: every failed primary is named', async () => {
    const port = await freePort();
    const pgm = new PgMultiverse(FAST);
    const e = await failure(
      pgm.initialize({
        ok: { schemas: ['s1'], primary: sharedPrimary },
        bad1: { schemas: ['s2'], primary: { host: '127.0.0.1', port } },
        bad2: { schemas: ['s3'], primary: { ...sharedPrimary, user: passwordRole.user, password: 'nope-Secret-3' } },
      }),
    );
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(e.message).toContain('bad1/primary');
    expect(e.message).toContain('bad2/primary');
    expect(e.message).not.toContain('ok/primary');
    expect(everything(e)).not.toContain('nope-Secret-3');
  });

  it('lazyConnect: true starts anyway; a failed login comes with the first query, coded, and counts against the node', async () => {
    const pgm = new PgMultiverse({ ...FAST, lazyConnect: true });
    const wrong = 'Lazy-Secret-5';
    await pgm.initialize({
      c: { schemas: ['s'], primary: { ...sharedPrimary, user: passwordRole.user, password: wrong } },
    });
    try {
      const e = await failure(pgm.query('SELECT 1', [], { schema: 's', role: 'primary' }));
      expect(e.code).toBe('CONNECTION_FAILED');
      expect(e.nodeId).toBe('primary');
      expect(e.sqlState).toBe('28P01');
      expect(e.message).toContain('c/primary');
      expect(everything(e)).not.toContain(wrong);
      expect(pgm.getMetrics().clusters.c!.queries.errors).toBe(1);
      const health = await pgm.healthCheck();
      expect(health.c!.nodes.primary!.healthy).toBe(false);
      expect(health.c!.nodes.primary!.failureCount).toBeGreaterThan(0);
    } finally {
      await pgm.close();
    }
  });

  it('lazyConnect: true with a refused port starts; the monitor marks the node down instead of initialize failing', async () => {
    const port = await freePort();
    const pgm = new PgMultiverse({ ...FAST, lazyConnect: true });
    const down: string[] = [];
    pgm.on('nodeDown', (e) => down.push(e.nodeId));
    await pgm.initialize({ c: { schemas: ['s'], primary: { host: '127.0.0.1', port } } });
    try {
      expect(down).toEqual(['primary']);
      // A write needs the primary, which the monitor's first probe (refused) marked down.
      const e = await failure(pgm.query('INSERT INTO t VALUES (1)', [], { schema: 's' }));
      expect(e.code).toBe('NO_AVAILABLE_NODE');
    } finally {
      await pgm.close();
    }
  });
});

describe('item 2 and 5: TLS', () => {
  let topo: Topology;
  let dir: string;
  let cert: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pgm-tls-'));
    chmodSync(dir, 0o755);
    const key = join(dir, 'server.key');
    const crt = join(dir, 'server.crt');
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        crt,
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    chmodSync(key, 0o600);
    chmodSync(crt, 0o644);
    // PostgreSQL wants its key owned by the server's OS user (the testkit drops root to `postgres`).
    if (process.getuid?.() === 0) {
      const name = process.env.PGM_TESTKIT_OS_USER ?? 'postgres';
      const line = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.startsWith(`${name}:`))!;
      const [, , uid, gid] = line.split(':');
      chownSync(key, Number(uid), Number(gid));
      chownSync(crt, Number(uid), Number(gid));
    }
    cert = readFileSync(crt, 'utf8');
    topo = await startTopology({
      clusters: { tls: { replicas: 0, schemas: ['public'] } },
      createSchemas: false,
      auth: 'password',
      settings: { ssl: 'on', ssl_cert_file: confString(crt), ssl_key_file: confString(key) },
    });
  });
  afterAll(async () => {
    await topo?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a self-signed certificate with ssl: true fails initialize with CONNECTION_FAILED, naming the node', async () => {
    const node = topo.config.tls!.primary as NodeConnectionConfig;
    const pgm = new PgMultiverse(FAST);
    const e = await failure(pgm.initialize({ tls: { schemas: ['public'], primary: { ...node, ssl: true } } }));
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(e.message).toContain('tls/primary (postgres://pgm:***@127.0.0.1:');
    expect(e.message).toMatch(/self[- ]signed/i);
    expect(everything(e)).not.toContain(topo.passwordRole.password);
  });

  it('ssl is carried through to pg: with the CA the connection is encrypted', async () => {
    const node = topo.config.tls!.primary as NodeConnectionConfig;
    const pgm = new PgMultiverse(FAST);
    await pgm.initialize({ tls: { schemas: ['public'], primary: { ...node, ssl: { ca: cert } } } });
    try {
      const r = await pgm.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
      expect(r.rows[0]!.ssl).toBe(true);
    } finally {
      await pgm.close();
    }
  });

  it('ssl: true against a server without TLS is CONNECTION_FAILED too', async () => {
    const pgm = new PgMultiverse(FAST);
    const e = await failure(pgm.initialize({ c: { schemas: ['s'], primary: { ...sharedPrimary, ssl: true } } }));
    expect(e.code).toBe('CONNECTION_FAILED');
    expect(e.message).toMatch(/does not support SSL/);
    expect(e.message).toContain('c/primary');
  });
});

describe('item 3: connection options reach the server; unknown keys are refused', () => {
  it('options, applicationName, keepAlive and pool.statementTimeout are carried through to pg', async () => {
    const pgm = new PgMultiverse(FAST);
    await pgm.initialize({
      c: {
        schemas: ['public'],
        primary: {
          ...sharedPrimary,
          options: '-c lock_timeout=1234',
          applicationName: 'loud-edges',
          keepAlive: true,
          keepAliveInitialDelayMillis: 1000,
          pool: { statementTimeout: 4321 },
        },
      },
    });
    try {
      const r = await pgm.query<{ lt: string; st: string; app: string }>(
        "SELECT current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st, current_setting('application_name') AS app",
      );
      expect(r.rows[0]).toEqual({ lt: '1234ms', st: '4321ms', app: 'loud-edges' });
    } finally {
      await pgm.close();
    }
  });

  it('replica: instead of replicas:, application_name and statement_timeout are INVALID_CONFIG issues, also from a JSON file', async () => {
    const bad = {
      c: {
        schemas: ['s'],
        primary: { ...sharedPrimary, application_name: 'x', statement_timeout: 5 },
        replica: [sharedPrimary],
      },
    };
    const e = await failure(new PgMultiverse().initialize(bad as never));
    expect(e.code).toBe('INVALID_CONFIG');
    const paths = (e as PgmError & { issues: { path: string }[] }).issues.map((i) => i.path);
    expect(paths).toEqual(['c.replica', 'c.primary.application_name', 'c.primary.statement_timeout']);
    expect(e.message).toContain('replicas');
    expect(e.message).toContain('applicationName');

    const dir = mkdtempSync(join(tmpdir(), 'pgm-cfg-'));
    const file = join(dir, 'clusters.json');
    writeFileSync(file, JSON.stringify({ clusters: bad, enableCach: true }));
    const f = await failure(new PgMultiverse().initialize(file));
    expect(f.code).toBe('INVALID_CONFIG');
    expect(f.message).toMatch(/enableCach: is not a known option; did you mean "enableCache"/);
    const bare = join(dir, 'bare.json');
    writeFileSync(bare, JSON.stringify(bad));
    expect((await failure(new PgMultiverse().initialize(bare))).message).toContain('c.replica');
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('item 4: facade options are validated, one issue per problem', () => {
  it('refuses bad pool, monitor and switch values at construction', () => {
    const issues = (o: unknown) => {
      try {
        new PgMultiverse(o as never);
      } catch (err) {
        expect((err as PgmError).code).toBe('INVALID_CONFIG');
        return (err as PgmError & { issues: { path: string }[] }).issues.map((i) => i.path);
      }
      return [];
    };
    expect(issues({ connectionPool: { max: -5 } })).toEqual(['connectionPool.max']);
    expect(issues({ connectionPool: { min: 5, max: 2 } })).toEqual(['connectionPool.min']);
    expect(issues({ cluster: { healthCheckInterval: 0 } })).toEqual(['cluster.healthCheckInterval']);
    expect(issues({ cluster: { healthCheckInterval: -1 } })).toEqual(['cluster.healthCheckInterval']);
    expect(issues({ enableCache: 'yes' })).toEqual(['enableCache']);
    expect(issues({ enableCache: 'yes', cache: { maxSize: -1 }, lazyConnect: 1 })).toEqual([
      'enableCache',
      'lazyConnect',
      'cache.maxSize',
    ]);
  });
});

describe('item 6: a Redis cache store without ioredis', () => {
  it('fails initialize with "install ioredis"', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgm-noredis-'));
    const dist = (pkg: string) =>
      pathToFileURL(fileURLToPath(new URL(`../../${pkg}/dist/index.js`, import.meta.url))).href;
    // The application's node_modules has no ioredis: its resolution fails, as when it is not installed.
    writeFileSync(
      join(dir, 'hook.mjs'),
      `export async function resolve(s, c, next) {
  if (s === 'ioredis') throw Object.assign(new Error("Cannot find package 'ioredis'"), { code: 'ERR_MODULE_NOT_FOUND' });
  return next(s, c);
}\n`,
    );
    writeFileSync(
      join(dir, 'register.mjs'),
      "import { register } from 'node:module';\nregister('./hook.mjs', import.meta.url);\n",
    );
    writeFileSync(
      join(dir, 'app.mjs'),
      `import { PgMultiverse, createRedisStore } from ${JSON.stringify(dist('pg-multiverse'))};
const pgm = new PgMultiverse({ enableCache: true, cache: { store: createRedisStore({ url: process.env.REDIS_URL }) } });
try {
  await pgm.initialize(JSON.parse(process.env.PGM_CONFIG));
  console.log(JSON.stringify({ ok: true }));
  await pgm.close();
} catch (e) {
  console.log(JSON.stringify({ code: e.code, message: e.message }));
}\n`,
    );
    const r = spawnSync(process.execPath, ['--import', './register.mjs', 'app.mjs'], {
      cwd: dir,
      encoding: 'utf8',
      env: {
        ...process.env,
        REDIS_URL: redisUrl ?? 'redis://127.0.0.1:1',
        PGM_CONFIG: JSON.stringify({ c: { schemas: ['s'], primary: sharedPrimary } }),
      },
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(out.code).toBe('CACHE_ERROR');
    expect(out.message).toContain('npm install ioredis');
  });
});

describe('item 7: initialize(url)', () => {
  it('a postgres:// URL is a one-cluster setup; another scheme is named as such, not "Cannot find module"', async () => {
    const url = `postgres://${sharedPrimary.user ?? 'postgres'}@127.0.0.1:${sharedPrimary.port}/${sharedPrimary.database ?? 'postgres'}`;
    const pgm = new PgMultiverse(FAST);
    await pgm.initialize(url);
    try {
      expect((await pgm.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one).toBe(1);
    } finally {
      await pgm.close();
    }
    const e = await failure(new PgMultiverse().initialize('mysql://u:Url-Secret-1@h/db'));
    expect(e.code).toBe('INVALID_CONFIG');
    expect(e.message).toContain('postgres:// connection URL or the path of a configuration file');
    expect(e.message).not.toContain('Url-Secret-1');
  });
});

// A direct pg connection works where the facade refuses: the refusals above are the facade's, not the server's.
describe('the shared server itself', () => {
  it('accepts the password role with the right password', async () => {
    const c = new pg.Client({ ...sharedPrimary, user: passwordRole.user, password: passwordRole.password });
    await c.connect();
    await c.end();
  });
});
