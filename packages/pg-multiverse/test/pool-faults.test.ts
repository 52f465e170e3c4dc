// pgm.pool() when the session of a client's transaction dies (issue 17, item 1): a topology of
// its own, since a killed backend makes the router probe the primary.
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import { PgMultiverse } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let topo: Topology;
let pgm: PgMultiverse;

beforeAll(async () => {
  topo = await startTopology({ clusters: { main: { replicas: 0, schemas: ['app'] } } });
  await topo.cluster('main').primary.query('CREATE TABLE app.t (id int PRIMARY KEY)');
  pgm = new PgMultiverse({ cluster: { healthCheckInterval: 200, healthCheckTimeout: 10_000 } });
  await pgm.initialize(topo.config);
});

afterAll(async () => {
  await pgm?.close();
  await topo?.stop();
});

describe('a client whose transaction session dies', () => {
  it('fails the next statement and the ROLLBACK, commits nothing, and the pool goes on with a new session', async () => {
    const pool = pgm.pool({ schema: 'app' });
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query('INSERT INTO t VALUES (1)');
    const { pid } = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0];
    // Waits (up to 10 s) until the backend has exited.
    await topo.cluster('main').primary.query('SELECT pg_terminate_backend($1, 10000)', [pid]);
    const err = await client.query('INSERT INTO t VALUES (2)').catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(client.getTransactionStatus()).toBe('E');
    await expect(client.query('ROLLBACK')).rejects.toBeInstanceOf(Error);
    expect(client.getTransactionStatus()).toBe('I');
    client.release();
    // Nothing of it committed; the pool serves new transactions (on a new session) and statements.
    expect((await topo.cluster('main').primary.query('SELECT count(*)::int AS n FROM app.t')).rows[0]!.n).toBe(0);
    let committed = false;
    // Until a deadline, not a number of tries: on a loaded machine the monitor may take seconds to confirm.
    const deadline = Date.now() + 120_000;
    while (!committed && Date.now() < deadline) {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        await c.query('INSERT INTO t VALUES (3)');
        await c.query('COMMIT');
        committed = true;
      } catch {
        // the primary may be marked suspect for a moment while the monitor confirms it
        await c.query('ROLLBACK').catch(() => {});
        await new Promise((r) => setTimeout(r, 100));
      } finally {
        c.release();
      }
    }
    expect(committed).toBe(true);
    expect((await pool.query('SELECT id FROM t')).rows).toEqual([{ id: 3 }]);
  });

  it("passes idle-connection errors of the nodes on as 'error' to a pool that listens", async () => {
    const pool = pgm.pool({ schema: 'app' });
    await pool.query('SELECT 1');
    let got: Error | undefined;
    pool.on('error', (e: Error) => {
      got ??= e;
    });
    // Every idle connection of the facade's pools, cut by the server; again while none was idle at that
    // moment (a probe of the monitor may have been using it).
    const deadline = Date.now() + 120_000;
    while (!got && Date.now() < deadline) {
      await topo
        .cluster('main')
        .primary.query(
          "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE state = 'idle' AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
        );
      for (let i = 0; i < 20 && !got; i++) await new Promise((r) => setTimeout(r, 50));
    }
    const err = got;
    expect(err).toBeInstanceOf(Error);
    await pool.end();
  });
});
