import { type ConnectionProvider, isPgmError, PgmError, poolProvider } from '@pg-multiverse/core';
import { plainPoolProvider, uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRouter, type QueryExecutedEvent, type Router } from '../src/index.js';

const ctx = inject('pgmTopology');
const usersSchema = uniqueName('rt_u');
const commerceSchema = uniqueName('rt_c');
const otherSchema = uniqueName('rt_o');

async function admin(port: number, sql: string): Promise<void> {
  const c = new pg.Client({ ...ctx.config.users_cluster!.primary, port });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

const usersPrimary = ctx.clusters.users_cluster!.primary;
const commercePrimary = ctx.clusters.commerce_cluster!.primary;
const usersReplicaPorts = ctx.clusters.users_cluster!.replicas.map((r) => r.serverPort);

let router: Router;

beforeAll(async () => {
  for (const [port, schema] of [
    [usersPrimary.port, usersSchema],
    [commercePrimary.port, commerceSchema],
    [usersPrimary.port, otherSchema],
  ] as const) {
    await admin(
      port,
      `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.items (id int primary key, owner text); INSERT INTO ${schema}.items VALUES (1, '${schema}')`,
    );
  }
  const config = withSchemas(ctx.config, { users_cluster: [usersSchema], commerce_cluster: [commerceSchema] });
  router = createRouter(config, { monitor: { healthCheckInterval: 500, healthCheckTimeout: 10_000 } });
  await router.start();
  // Replicas must have replayed the DDL before reads go there.
  await waitFor(async () => {
    const r = await router.query('SELECT count(*)::int AS n FROM items', [], { schema: usersSchema });
    return r.rows[0]?.n === 1;
  });
});

afterAll(async () => {
  await router?.close();
});

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('schema routing', () => {
  it('routes each schema to its cluster with the schema first on the search_path', async () => {
    const u = await router.query<{ s: string; owner: string }>(
      'SELECT current_schema() AS s, owner FROM items WHERE id = $1',
      [1],
      { schema: usersSchema },
    );
    expect(u.route.clusterId).toBe('users_cluster');
    expect(u.rows[0]).toEqual({ s: usersSchema, owner: usersSchema });
    const c = await router.query<{ s: string; port: number }>(
      'SELECT current_schema() AS s, inet_server_port() AS port, owner FROM items',
      [],
      { schema: commerceSchema },
    );
    expect(c.route.clusterId).toBe('commerce_cluster');
    expect(c.rows[0]?.s).toBe(commerceSchema);
    // `route` is not part of the data: not enumerable, not serialised.
    expect(Object.keys(c)).not.toContain('route');
    expect(JSON.parse(JSON.stringify(c))).toMatchObject({ command: 'SELECT', rowCount: 1, rows: c.rows });
    expect(JSON.stringify(c)).not.toContain('route');
    expect(c.fields.map((f) => f.name)).toEqual(['s', 'port', 'owner']);
    expect(c.rows[0]?.port).toBe(commercePrimary.serverPort);
  });

  it('names the known schemas and clusters in its errors', async () => {
    const err = await router.query('SELECT 1', [], { schema: 'nope_schema' }).catch((e) => e);
    expect(isPgmError(err, 'UNKNOWN_SCHEMA')).toBe(true);
    expect(err.message).toContain(usersSchema);
    expect(err.message).toContain(commerceSchema);
    expect(() => router.registerSchema('x', 'no_such_cluster')).toThrow(
      /Unknown cluster "no_such_cluster".*users_cluster/,
    );
    // Two clusters and no schema: no silent default.
    const noSchema = await router.query('SELECT 1').catch((e) => e);
    expect(isPgmError(noSchema, 'UNKNOWN_SCHEMA')).toBe(true);
    expect(noSchema.message).toMatch(/No schema given/);
  });

  it('registerSchema takes effect at once, and can move a schema', async () => {
    const events: string[] = [];
    router.on('schemaRegistered', (e) => events.push(`${e.schema}->${e.clusterId}`));
    router.registerSchema(otherSchema, 'users_cluster', { cacheStrategy: 'aggressive' });
    const r = await router.query<{ owner: string }>('SELECT owner FROM items', [], {
      schema: otherSchema,
      role: 'primary',
    });
    expect(r.rows[0]?.owner).toBe(otherSchema);
    expect(router.schemas()[otherSchema]).toBe('users_cluster');
    expect(router.schemaOptions(otherSchema)?.cacheStrategy).toBe('aggressive');
    router.registerSchema(otherSchema, 'commerce_cluster');
    const moved = await router.query('SELECT 1 AS one', [], { schema: otherSchema });
    expect(moved.route.clusterId).toBe('commerce_cluster');
    expect(events).toEqual([`${otherSchema}->users_cluster`, `${otherSchema}->commerce_cluster`]);
  });

  it('warms min connections at start when warmupConnections is set', async () => {
    const r = createRouter(withSchemas(ctx.config, { commerce_cluster: [commerceSchema] }), {
      connectionPool: { min: 3, max: 5, warmupConnections: true },
    });
    try {
      await r.start();
      expect(r.poolStats()['commerce_cluster/primary']).toMatchObject({ total: 3, idle: 3 });
    } finally {
      await r.close();
    }
  });

  it('uses the only cluster when no schema is given', async () => {
    const single = createRouter(withSchemas(ctx.config, { commerce_cluster: [commerceSchema] }));
    try {
      const r = await single.query<{ port: number }>('SELECT inet_server_port() AS port');
      expect(r.route.clusterId).toBe('commerce_cluster');
      expect(r.rows[0]?.port).toBe(commercePrimary.serverPort);
      expect(single.resolveCluster()).toBe('commerce_cluster');
    } finally {
      await single.close();
    }
  });
});

describe('read/write split', () => {
  it('sends writes to the primary and reads to replicas, balanced', async () => {
    const w = await router.query<{ rec: boolean }>(
      'WITH x AS (UPDATE items SET owner = owner WHERE id = 1 RETURNING 1) SELECT pg_is_in_recovery() AS rec FROM x',
      [],
      { schema: usersSchema },
    );
    expect(w.route.kind).toBe('write');
    expect(w.route.role).toBe('primary');
    expect(w.rows[0]?.rec).toBe(false);
    const ports = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const r = await router.query<{ rec: boolean; port: number }>(
        'SELECT pg_is_in_recovery() AS rec, inet_server_port() AS port',
        [],
        { schema: usersSchema },
      );
      expect(r.route.kind).toBe('read');
      expect(r.route.role).toBe('replica');
      expect(r.rows[0]?.rec).toBe(true);
      ports.add(r.rows[0]!.port);
    }
    expect([...ports].sort()).toEqual([...usersReplicaPorts].sort());
  });

  it('honours role and consistency overrides', async () => {
    const p = await router.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec', [], {
      schema: usersSchema,
      role: 'primary',
    });
    expect(p.rows[0]?.rec).toBe(false);
    expect(p.route.reason).toBe('role-primary');
    const s = await router.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec', [], {
      schema: usersSchema,
      consistency: 'strong',
    });
    expect(s.rows[0]?.rec).toBe(false);
    expect(s.route.reason).toBe('strong');
    const b = await router.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec', [], {
      schema: usersSchema,
      consistency: 'bounded',
      maxLagMs: 60_000,
    });
    expect(b.rows[0]?.rec).toBe(true);
    await expect(
      router.query('SELECT 1', [], { schema: usersSchema, role: 'replica', consistency: 'strong' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('follows readPreference primary and strong cluster defaults', async () => {
    const cfg = withSchemas(ctx.config, { users_cluster: [usersSchema] });
    const r1 = createRouter({ users_cluster: { ...cfg.users_cluster!, readPreference: 'primary' } });
    const r2 = createRouter({ users_cluster: { ...cfg.users_cluster!, consistencyLevel: 'strong' } });
    try {
      const a = await r1.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec', [], { schema: usersSchema });
      expect(a.rows[0]?.rec).toBe(false);
      expect(a.route.reason).toBe('read-preference-primary');
      const b = await r2.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec', [], { schema: usersSchema });
      expect(b.rows[0]?.rec).toBe(false);
      // An explicit replica role beats the strong default.
      const c = await r2.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec', [], {
        schema: usersSchema,
        role: 'replica',
      });
      expect(c.rows[0]?.rec).toBe(true);
    } finally {
      await r1.close();
      await r2.close();
    }
  });
});

describe('search_path', () => {
  it('never leaks one schema to another query, with no SET in steady state', async () => {
    const schemaB = uniqueName('rt_b');
    await admin(usersPrimary.port, `CREATE SCHEMA ${schemaB}; CREATE TABLE ${schemaB}.items (id int, owner text)`);
    await admin(usersPrimary.port, `INSERT INTO ${schemaB}.items VALUES (1, '${schemaB}')`);
    const pool = new pg.Pool({ ...ctx.config.users_cluster!.primary, max: 1 });
    const sent: string[] = [];
    pool.on('connect', (client) => {
      const orig = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
        sent.push(typeof a[0] === 'string' ? a[0] : String((a[0] as { text?: string }).text));
        return orig(...a);
      };
    });
    const cfg = withSchemas(ctx.config, { users_cluster: [usersSchema, schemaB] });
    const r = createRouter(
      { users_cluster: { ...cfg.users_cluster!, replicas: [] } },
      {
        providers: { 'users_cluster/primary': pool },
      },
    );
    try {
      const owner = async (schema?: string) => {
        const res = await r.query<{ owner: string; sp: string }>(
          "SELECT current_schema() AS owner, current_setting('search_path') AS sp",
          [],
          schema ? { schema } : {},
        );
        return res.rows[0]!;
      };
      expect((await owner(usersSchema)).owner).toBe(usersSchema);
      expect((await owner(schemaB)).owner).toBe(schemaB);
      expect((await owner(usersSchema)).owner).toBe(usersSchema);
      // No schema: the server default, not the last schema used on this connection.
      const plain = await owner();
      expect(plain).toEqual({ owner: 'public', sp: '"$user", public' });
      // A user SET through the router does not stick to the next routed query.
      await r.query('SET search_path TO pg_catalog', [], { schema: schemaB });
      expect((await owner(usersSchema)).owner).toBe(usersSchema);
      // Steady state: ten queries on one schema send no SET at all.
      sent.length = 0;
      for (let i = 0; i < 10; i++) await r.query('SELECT 1', [], { schema: usersSchema });
      expect(sent).toEqual(Array(10).fill('SELECT 1'));
      // A session handed out by primary() comes back dirty and is cleaned before the next routed query.
      await r.primary('users_cluster').withConnection(async (c) => {
        const sp = await c.query<{ sp: string }>("SELECT current_setting('search_path') AS sp");
        expect(sp.rows[0]?.sp).toBe('"$user", public');
        await c.query('SET search_path TO pg_catalog');
      });
      expect((await owner(usersSchema)).owner).toBe(usersSchema);
    } finally {
      await r.close();
      await pool.end();
    }
  });
});

describe('pools', () => {
  it('survives idle connections dropped by the server (poolError, no crash) and reconnects', async () => {
    const app = uniqueName('rt_app');
    const cfg = withSchemas(ctx.config, { commerce_cluster: [commerceSchema] });
    const r = createRouter({
      commerce_cluster: {
        ...cfg.commerce_cluster!,
        primary: { ...cfg.commerce_cluster!.primary, applicationName: app },
      },
    });
    const dropped: string[] = [];
    r.on('poolError', (e) => dropped.push(e.nodeId));
    try {
      await Promise.all(Array.from({ length: 3 }, () => r.query('SELECT pg_sleep(0.05)')));
      expect(r.poolStats()['commerce_cluster/primary']).toMatchObject({ total: 3, idle: 3 });
      await admin(
        commercePrimary.port,
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${app}'`,
      );
      await waitFor(() => dropped.length >= 3);
      expect(dropped).toEqual(['primary', 'primary', 'primary']);
      const again = await r.query<{ one: number }>('SELECT 1 AS one');
      expect(again.rows).toEqual([{ one: 1 }]);
    } finally {
      await r.close();
    }
  });
});

describe('application-supplied providers', () => {
  it('runs schema queries on a generic ConnectionProvider without leaking the search_path', async () => {
    const pool = new pg.Pool({ ...ctx.config.commerce_cluster!.primary, max: 1 });
    const provider = poolProvider(pool, 'commerce_cluster/primary', { ownsPool: false });
    const cfg = withSchemas(ctx.config, { commerce_cluster: [commerceSchema] });
    const r = createRouter(cfg, { providers: { 'commerce_cluster/primary': provider } });
    try {
      const a = await r.query<{ s: string }>('SELECT current_schema() AS s', [], { schema: commerceSchema });
      expect(a.rows[0]?.s).toBe(commerceSchema);
      const b = await r.query<{ s: string }>('SELECT current_schema() AS s');
      expect(b.rows[0]?.s).toBe('public');
      expect(pool.totalCount).toBe(1); // the router used the application's pool, not one of its own
    } finally {
      await r.close();
      await pool.end();
    }
  });
});

describe('application-supplied providers without run', () => {
  it('sends SET, the statement and RESET together, and leaves the session clean', async () => {
    const pool = new pg.Pool({ ...ctx.config.commerce_cluster!.primary, max: 1 });
    const sent: string[] = [];
    const provider = plainPoolProvider(pool, 'commerce_cluster/primary', {
      onStatement: (t) => sent.push(t),
      endPool: false,
    }) as unknown as ConnectionProvider;
    const cfg = withSchemas(ctx.config, { commerce_cluster: [commerceSchema] });
    const r = createRouter(cfg, { providers: { 'commerce_cluster/primary': provider } });
    try {
      const a = await r.query<{ owner: string }>('SELECT owner FROM items WHERE id = $1', [1], {
        schema: commerceSchema,
      });
      expect(a.rows).toEqual([{ owner: commerceSchema }]);
      expect(sent).toEqual([
        `SET search_path TO "${commerceSchema}", public`,
        'SELECT owner FROM items WHERE id = $1',
        'RESET search_path',
      ]);
      sent.length = 0;
      const b = await r.query<{ s: string }>('SELECT current_schema() AS s');
      expect(b.rows[0]?.s).toBe('public');
      expect(sent).toEqual(['SELECT current_schema() AS s']);
      const failed = await r.query('SELECT 1 / $1::int', [0], { schema: commerceSchema }).catch((e) => e);
      expect(failed.sqlState).toBe('22012');
      expect((await pool.query('SELECT current_schema() AS s')).rows[0]?.s).toBe('public');
    } finally {
      await r.close();
      await pool.end();
    }
  });
});

describe('errors, events and sessions', () => {
  it('wraps pg errors with the SQLSTATE reachable and emits queryExecuted without params', async () => {
    const events: QueryExecutedEvent[] = [];
    const on = (e: QueryExecutedEvent) => events.push(e);
    router.on('queryExecuted', on);
    try {
      const err = await router.query('SELECT 1 / $1::int', [0], { schema: usersSchema }).catch((e) => e);
      expect(err).toBeInstanceOf(PgmError);
      expect(err.code).toBe('QUERY_FAILED');
      expect(err.sqlState).toBe('22012');
      expect(err.cause.code).toBe('22012');
      expect(err.clusterId).toBe('users_cluster');
      await router.query('SELECT $1::text AS secret_value', ['hunter2'], { schema: usersSchema });
    } finally {
      router.off('queryExecuted', on);
    }
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({ ok: false, kind: 'read', clusterId: 'users_cluster', errorCode: '22012' });
    expect(events[1]).toMatchObject({ ok: true, kind: 'read', role: 'replica', schema: usersSchema });
    expect(JSON.stringify(events)).not.toContain('hunter2');
  });

  it('records the WAL position of a write in the session and reads it back', async () => {
    const token = router.createSessionToken();
    await router.query('INSERT INTO items VALUES ($1, $2)', [2, 'session'], {
      schema: usersSchema,
      sessionToken: token,
    });
    expect(token.positions.get('users_cluster')).toBeTypeOf('bigint');
    const r = await router.query<{ owner: string }>('SELECT owner FROM items WHERE id = 2', [], {
      schema: usersSchema,
      consistency: 'session',
      sessionToken: token,
    });
    expect(r.rows[0]?.owner).toBe('session');
    // AsyncLocalStorage scope: the same without passing the token.
    await router.runWithSession(async () => {
      await router.query('UPDATE items SET owner = $1 WHERE id = 2', ['scoped'], { schema: usersSchema });
      const again = await router.query<{ owner: string }>('SELECT owner FROM items WHERE id = 2', [], {
        schema: usersSchema,
        consistency: 'session',
      });
      expect(again.rows[0]?.owner).toBe('scoped');
      expect(String(router.currentSession())).toMatch(/^users_cluster=[0-9A-F]+\/[0-9A-F]+$/);
    });
  });

  it('noteWrite records commits made elsewhere (tx, facade) in the token in scope', async () => {
    const token = router.createSessionToken();
    const lsn = await router.noteWrite('users_cluster', undefined, token);
    expect(lsn).toBeTypeOf('bigint');
    expect(token.positions.get('users_cluster')).toBe(lsn);
    await router.noteWrite('users_cluster', '0/10', token);
    expect(token.positions.get('users_cluster')).toBe(lsn); // never backwards
    expect(await router.noteWrite('users_cluster', '0/10')).toBeUndefined(); // no token in scope
    await expect(router.noteWrite('nope', '0/10', token)).rejects.toMatchObject({ code: 'UNKNOWN_CLUSTER' });
  });

  it('reports health per cluster and node, and pool stats', async () => {
    const h = await router.healthCheck();
    expect(Object.keys(h).sort()).toEqual(['commerce_cluster', 'users_cluster']);
    expect(h.users_cluster).toMatchObject({ healthy: true, failureCount: 0 });
    expect(Object.keys(h.users_cluster!.nodes).sort()).toEqual(['primary', 'replica-1', 'replica-2']);
    expect(h.users_cluster!.nodes['replica-1']).toMatchObject({ healthy: true, role: 'replica' });
    expect(h.users_cluster!.nodes.primary).toMatchObject({ healthy: true, role: 'primary', lagBytes: 0 });
    const stats = router.poolStats();
    expect(stats['users_cluster/primary']?.total).toBeGreaterThan(0);
    const states = router.nodeStates();
    const p = states.find((s) => s.clusterId === 'users_cluster' && s.nodeId === 'primary')!;
    expect(p.queries).toBeGreaterThan(0);
    expect(p.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('re-probes at once when a "primary" answers 25006 (read-only), and reports its real role', async () => {
    // Misconfigured on purpose: the "primary" is really a replica.
    const replica = ctx.config.users_cluster!.replicas[0]!;
    const r = createRouter({ wrong: { schemas: ['public'], primary: { ...replica, id: 'primary' } } });
    const roles: string[] = [];
    r.on('roleChanged', (e) => roles.push(`${e.nodeId}:${e.from}->${e.to}`));
    try {
      const err = await r.query('CREATE TEMP TABLE t (x int)').catch((e) => e);
      expect(isPgmError(err, 'QUERY_FAILED')).toBe(true);
      expect(err.sqlState).toBe('25006');
      await waitFor(() => roles.length > 0);
      expect(roles).toEqual(['primary:primary->replica']);
    } finally {
      await r.close();
    }
  });

  it('refuses to route after close', async () => {
    const r = createRouter(withSchemas(ctx.config, { commerce_cluster: [commerceSchema] }));
    await r.close();
    await expect(r.query('SELECT 1')).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
