// pgm.pool(): the pg.Pool-compatible routing pool (issue 17, item 1), against the shared topology.
import { uniqueName, waitForReplicas, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { type ClusterConfiguration, PgMultiverse, type PgMultiverseEvents, type QueryTracer } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

const { config: shared } = inject('pgmTopology');
const US = uniqueName('pu');
const CS = uniqueName('pc');
const config: ClusterConfiguration = withSchemas(shared, { users_cluster: [US], commerce_cluster: [CS] });
const users = shared.users_cluster!;
let admin: pg.Pool;
let adminC: pg.Pool;
let pgm: PgMultiverse;
const ran: PgMultiverseEvents['queryExecuted'][] = [];

/** The statements run since `from`, as `cluster/node sql`. */
function since(from: number) {
  return ran.slice(from).map((e) => ({ cluster: e.clusterId, node: e.nodeId, role: e.role, sql: e.sql }));
}

beforeAll(async () => {
  admin = new pg.Pool(users.primary as pg.PoolConfig);
  adminC = new pg.Pool(shared.commerce_cluster!.primary as pg.PoolConfig);
  await admin.query(
    `CREATE SCHEMA ${US}; CREATE TABLE ${US}.items (id int PRIMARY KEY, name text NOT NULL); INSERT INTO ${US}.items VALUES (1, 'one'), (2, 'two')`,
  );
  await adminC.query(`CREATE SCHEMA ${CS}; CREATE TABLE ${CS}.ledger (id int PRIMARY KEY, amount int NOT NULL)`);
  await waitForReplicas(users);
  pgm = new PgMultiverse({ enableCache: true });
  await pgm.initialize(config);
  pgm.on('queryExecuted', (e) => ran.push(e));
});

afterAll(async () => {
  await pgm?.close();
  await admin?.end();
  await adminC?.end();
});

describe('pool.query routes each statement as pgm.query does', () => {
  it('by the schema of its qualified tables: reads to a replica, writes to the primary, other clusters to theirs', async () => {
    const pool = pgm.pool();
    const from = ran.length;
    const r = await pool.query(`SELECT name FROM ${US}.items WHERE id = $1`, [1]);
    expect(r.rows).toEqual([{ name: 'one' }]);
    await pool.query(`INSERT INTO ${US}.items VALUES (10, 'ten')`);
    await pool.query(`INSERT INTO ${CS}.ledger VALUES (1, 5)`);
    const s = since(from);
    expect(s[0]).toMatchObject({ cluster: 'users_cluster', role: 'replica' });
    expect(s[0]!.node).toMatch(/^replica-/);
    expect(s[1]).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    expect(s[2]).toMatchObject({ cluster: 'commerce_cluster', node: 'primary' });
  });

  it("unqualified tables go to pool({ schema })'s cluster with that schema on the search_path; without one there is no cluster to pick", async () => {
    const pool = pgm.pool({ schema: US, role: 'primary' });
    const from = ran.length;
    expect((await pool.query('SELECT count(*)::int AS n FROM items WHERE id < 3')).rows).toEqual([{ n: 2 }]);
    expect(since(from)[0]).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    // A qualified table of another cluster still goes there, whatever the pool's schema.
    await pool.query(`SELECT * FROM ${CS}.ledger`);
    expect(since(from)[1]).toMatchObject({ cluster: 'commerce_cluster' });
    await expect(pgm.pool().query('SELECT * FROM items')).rejects.toMatchObject({ code: 'UNKNOWN_SCHEMA' });
  });

  it('a statement naming tables of two clusters is refused, naming both', async () => {
    const err = await pgm
      .pool()
      .query(`SELECT * FROM ${US}.items i JOIN ${CS}.ledger l ON l.id = i.id`)
      .catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'CROSS_CLUSTER_STATEMENT' });
    expect((err as Error).message).toContain('users_cluster');
    expect((err as Error).message).toContain('commerce_cluster');
    expect((err as Error).message).toContain('withTransaction');
  });
});

describe("pool.query takes node-postgres' forms", () => {
  it("rowMode 'array' keeps columns of the same name; custom types parse; named statements run again", async () => {
    const pool = pgm.pool({ role: 'primary' });
    const arrays = await pool.query({
      text: `SELECT a.id, b.id, a.name FROM ${US}.items a JOIN ${US}.items b ON b.id = a.id + 1 WHERE a.id = 1`,
      rowMode: 'array',
    });
    expect(arrays.rows).toEqual([[1, 2, 'one']]);
    expect(arrays.fields.map((f: { name: string }) => f.name)).toEqual(['id', 'id', 'name']);
    const types = {
      getTypeParser: (oid: number) => (oid === 23 ? (v: string) => `int:${v}` : (v: string) => v),
    };
    const typed = await pool.query({ text: `SELECT id FROM ${US}.items WHERE id = $1`, values: [2], types });
    expect(typed.rows).toEqual([{ id: 'int:2' }]);
    const name = uniqueName('stmt');
    for (const id of [1, 2, 1]) {
      const r = await pool.query({ name, text: `SELECT name FROM ${US}.items WHERE id = $1`, values: [id] });
      expect(r.rows[0].name).toBe(id === 1 ? 'one' : 'two');
    }
  });

  it('callbacks: query(text, cb), query(text, values, cb), query(config, cb), connect(cb); errors keep their SQLSTATE', async () => {
    const pool = pgm.pool({ schema: US, role: 'primary' });
    const q = (...args: unknown[]) =>
      new Promise<unknown>((resolve, reject) => {
        const ret = (pool.query as (...a: unknown[]) => unknown)(
          ...args,
          (err: Error | null, r: { rows: unknown[] }) => (err ? reject(err) : resolve(r.rows)),
        );
        expect(ret).toBeUndefined();
      });
    expect(await q('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await q(`SELECT name FROM ${US}.items WHERE id = $1`, [2])).toEqual([{ name: 'two' }]);
    expect(await q({ text: `SELECT name FROM ${US}.items WHERE id = $1`, values: [1] })).toEqual([{ name: 'one' }]);
    const viaCb = await new Promise<string>((resolve, reject) =>
      pool.connect((err, client, done) => {
        if (err || !client) return reject(err);
        client.query('SELECT 2 AS two').then((r: { rows: { two: number }[] }) => {
          done!();
          resolve(String(r.rows[0]!.two));
        }, reject);
      }),
    );
    expect(viaCb).toBe('2');
    // pg's DatabaseError, as libraries built on pg expect (23505 unique_violation).
    const dup = await pool.query(`INSERT INTO ${US}.items VALUES (1, 'again')`).catch((e: Error) => e);
    expect(dup).toBeInstanceOf(pg.DatabaseError);
    expect((dup as { code: string }).code).toBe('23505');
    expect((dup as { pgmError: { code: string } }).pgmError.code).toBe('QUERY_FAILED');
  });

  it('is a pg.Pool (instanceof, and to TypeScript), and its clients pg.PoolClients', async () => {
    const pool: pg.Pool = pgm.pool({ schema: US });
    // At run time too: libraries check `instanceof pg.Pool` (@prisma/adapter-pg) or the class name (Drizzle).
    expect(pool).toBeInstanceOf(pg.Pool);
    expect(pool.constructor.name).toContain('Pool');
    expect(pool.totalCount).toBeGreaterThan(0);
    expect(pool.idleCount).toBeLessThanOrEqual(pool.totalCount);
    expect(pool.waitingCount).toBe(0);
    const client: pg.PoolClient = await pool.connect();
    expect((await client.query('SELECT 1 AS one', [])).rows).toEqual([{ one: 1 }]);
    expect(() => client.connection).toThrow(/no one connection|socket/);
    // pg's escaping, checked by the server itself
    const lit = client.escapeLiteral("it's a \\ test");
    const ident = client.escapeIdentifier('we"ird');
    expect((await client.query(`SELECT ${lit} AS ${ident}`)).rows).toEqual([{ 'we"ird': "it's a \\ test" }]);
    client.release();
  });

  it('refuses what it cannot honour: transaction control and session state on pool.query, unknown options, unknown schemas', async () => {
    const pool = pgm.pool();
    await expect(pool.query('BEGIN')).rejects.toThrow(/pool\.connect\(\)|withTransaction/);
    await expect(pool.query("SET statement_timeout = '1s'")).rejects.toThrow(/SET LOCAL/);
    await expect(pool.query('LISTEN x')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => pgm.pool({ shema: US } as never)).toThrow(/unknown option "shema"/);
    expect(() => pgm.pool({ schema: 'nope' })).toThrow(/Unknown schema "nope"/);
    expect(() => pgm.pool({ consistency: 'strongest' as never })).toThrow(/consistency must be one of/);
    expect(() => pgm.pool({ maxLagMs: -1 })).toThrow(/maxLagMs must be/);
    await expect(pool.query({ text: 'SELECT 1', rowMode: 'object' })).rejects.toThrow(/rowMode/);
  });
});

describe('clients from pool.connect()', () => {
  it('BEGIN pins the transaction to the primary of the cluster its first statement names; COMMIT makes it visible', async () => {
    const pool = pgm.pool();
    const events: string[] = [];
    for (const e of ['connect', 'acquire', 'release', 'remove'] as const) pool.on(e, () => events.push(e));
    const client = await pool.connect();
    const from = ran.length;
    expect(client.getTransactionStatus()).toBe('I');
    await client.query('BEGIN');
    expect(client.getTransactionStatus()).toBe('T');
    await client.query(`INSERT INTO ${US}.items VALUES (20, 'twenty')`);
    // Its own uncommitted write: the same session.
    expect((await client.query(`SELECT name FROM ${US}.items WHERE id = 20`)).rows).toEqual([{ name: 'twenty' }]);
    await client.query('SAVEPOINT s1');
    // Unqualified tables with no pool schema and no default cluster: the transaction's own session.
    expect((await client.query('SELECT count(*)::int > 0 AS ok FROM pg_class')).rows).toEqual([{ ok: true }]);
    await client.query('COMMIT');
    const ended = new Promise<void>((resolve) => client.once('end', resolve));
    client.release();
    await ended;
    const s = since(from);
    expect(s.map((e) => e.sql)).toEqual([
      'BEGIN',
      `INSERT INTO ${US}.items VALUES (20, 'twenty')`,
      `SELECT name FROM ${US}.items WHERE id = 20`,
      'SAVEPOINT s1',
      'SELECT count(*)::int > 0 AS ok FROM pg_class',
      'COMMIT',
    ]);
    for (const e of s) expect(e).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    const txIds = new Set(ran.slice(from).map((e) => e.transactionId));
    expect(txIds.size).toBe(1);
    expect([...txIds][0]).toEqual(expect.any(String));
    expect(events).toEqual(['connect', 'acquire', 'release', 'remove']);
    expect((await admin.query(`SELECT name FROM ${US}.items WHERE id = 20`)).rows).toEqual([{ name: 'twenty' }]);
  });

  it("with pool({ schema }), a transaction of unqualified statements runs on that schema's cluster with it on the search_path", async () => {
    const client = await pgm.pool({ schema: US }).connect();
    const from = ran.length;
    await client.query('BEGIN');
    await client.query("INSERT INTO items VALUES (40, 'forty')");
    expect((await client.query('SELECT name FROM items WHERE id = 40')).rows).toEqual([{ name: 'forty' }]);
    await client.query('COMMIT');
    client.release();
    const s = since(from);
    expect(s.map((e) => e.sql)).toEqual([
      'BEGIN',
      `SET LOCAL search_path TO "${US}", public`,
      "INSERT INTO items VALUES (40, 'forty')",
      'SELECT name FROM items WHERE id = 40',
      'COMMIT',
    ]);
    for (const e of s) expect(e).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    expect((await admin.query(`SELECT name FROM ${US}.items WHERE id = 40`)).rows).toEqual([{ name: 'forty' }]);
  });

  it('a statement of another cluster inside the transaction is refused naming both clusters; the transaction goes on and rolls back whole', async () => {
    const pool = pgm.pool();
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query(`INSERT INTO ${US}.items VALUES (30, 'thirty')`);
    const err = await client.query(`INSERT INTO ${CS}.ledger VALUES (30, 1)`).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'CROSS_CLUSTER_STATEMENT' });
    expect((err as Error).message).toMatch(/"users_cluster".*"commerce_cluster".*withTransaction/s);
    expect((await client.query(`SELECT count(*)::int AS n FROM ${US}.items WHERE id = 30`)).rows[0].n).toBe(1);
    await client.query('ROLLBACK');
    client.release();
    expect((await admin.query(`SELECT count(*)::int AS n FROM ${US}.items WHERE id = 30`)).rows[0].n).toBe(0);
    expect((await adminC.query(`SELECT count(*)::int AS n FROM ${CS}.ledger WHERE id = 30`)).rows[0].n).toBe(0);
  });

  it('outside a transaction a client routes each statement (reads to replicas); release() rolls back an open transaction', async () => {
    const pool = pgm.pool();
    const client = await pool.connect();
    const from = ran.length;
    await client.query(`SELECT * FROM ${US}.items WHERE id = 1`);
    expect(since(from)[0]).toMatchObject({ cluster: 'users_cluster', role: 'replica' });
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await client.query(`UPDATE ${CS}.ledger SET amount = 99 WHERE id = 1`);
    const poolEnded = new Promise<void>((resolve) => pool.once('end' as never, resolve));
    client.release();
    await pool.end();
    await poolEnded;
    expect(pool.ended).toBe(true);
    expect((await adminC.query(`SELECT amount FROM ${CS}.ledger WHERE id = 1`)).rows[0].amount).toBe(5);
    await expect(pool.query('SELECT 1')).rejects.toMatchObject({ code: 'CLOSED' });
    expect(() => client.release()).toThrow(/already been released/);
  });

  it("a client reads its own committed writes (read-your-writes) at consistency 'session'", async () => {
    const pool = pgm.pool({ consistency: 'session' });
    const client = await pool.connect();
    for (let i = 0; i < 5; i++) {
      await client.query(`UPDATE ${US}.items SET name = $1 WHERE id = 2`, [`v${i}`]);
      expect((await client.query(`SELECT name FROM ${US}.items WHERE id = 2`)).rows[0].name).toBe(`v${i}`);
      await client.query('BEGIN');
      await client.query(`UPDATE ${US}.items SET name = $1 WHERE id = 2`, [`t${i}`]);
      await client.query('COMMIT');
      expect((await client.query(`SELECT name FROM ${US}.items WHERE id = 2`)).rows[0].name).toBe(`t${i}`);
    }
    client.release();
    await admin.query(`UPDATE ${US}.items SET name = 'two' WHERE id = 2`);
  });
});

describe('cache and metrics apply as for pgm.query', () => {
  it('cached reads are served from the cache; a committed write of a client transaction invalidates them', async () => {
    const pool = pgm.pool({ cache: true, role: 'primary' });
    const sql = `SELECT name FROM ${US}.items WHERE id = 1`;
    const before = pgm.getMetrics().clusters.users_cluster!.queries;
    const from = ran.length;
    expect((await pool.query(sql)).rows).toEqual([{ name: 'one' }]);
    expect((await pool.query(sql)).rows).toEqual([{ name: 'one' }]);
    expect(since(from).filter((e) => e.sql === sql)).toHaveLength(1);
    // rows as arrays are another entry
    expect((await pool.query({ text: sql, rowMode: 'array' })).rows).toEqual([['one']]);
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query(`UPDATE ${US}.items SET name = 'uno' WHERE id = 1`);
    await client.query('COMMIT');
    client.release();
    expect((await pool.query(sql)).rows).toEqual([{ name: 'uno' }]);
    await admin.query(`UPDATE ${US}.items SET name = 'one' WHERE id = 1`);
    await pgm.invalidateCache({ schema: US });
    // Counted like pgm.query: 4 reads (1 of them a cache hit), the transaction's statements, the last read.
    const after = pgm.getMetrics().clusters.users_cluster!.queries;
    expect(after.cached - before.cached).toBe(1);
    expect(after.reads - before.reads).toBeGreaterThanOrEqual(4);
    expect(after.writes - before.writes).toBeGreaterThanOrEqual(1);
  });
});

describe('tracing applies as for pgm.query', () => {
  it('one span per pool statement, and one per statement of a client transaction', async () => {
    const spans: { name: string; attrs: Record<string, unknown>; ended: boolean }[] = [];
    const tracer: QueryTracer = {
      startSpan(name, options) {
        const s = { name, attrs: { ...(options?.attributes ?? {}) } as Record<string, unknown>, ended: false };
        spans.push(s);
        return {
          setAttribute: (k: string, v: unknown) => {
            s.attrs[k] = v;
          },
          end: () => {
            s.ended = true;
          },
        };
      },
    };
    const traced = new PgMultiverse({ tracer });
    await traced.initialize(config);
    try {
      const pool = traced.pool();
      await pool.query(`SELECT * FROM ${US}.items WHERE id = 1`);
      await pool.query({ text: `SELECT * FROM ${US}.items WHERE id = $1`, values: [1], rowMode: 'array' });
      const client = await pool.connect();
      await client.query('BEGIN');
      await client.query(`UPDATE ${US}.items SET name = name WHERE id = 1`);
      await client.query('COMMIT');
      client.release();
      // 2 statements + BEGIN, UPDATE, COMMIT; every span ended, each naming its cluster.
      expect(spans).toHaveLength(5);
      for (const s of spans) {
        expect(s.ended).toBe(true);
        expect(Object.values(s.attrs)).toContain('users_cluster');
      }
    } finally {
      await traced.close();
    }
  });
});
