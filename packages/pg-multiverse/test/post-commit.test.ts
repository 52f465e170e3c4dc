// A participant lost between PREPARE TRANSACTION and COMMIT PREPARED, with no 'error' listener of the
// application: the commit resolves, the follow-up is reported through the facade's events (never an
// unhandled 'error' event or a process warning), and the write becomes visible once recovery ran.
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { PgMultiverse, type PgMultiverseEvents } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let topo: Topology;
const primaryOf = (c: string) => topo.cluster(c).primary;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`, { cause: last });
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  topo = await startTopology({
    clusters: { main: { replicas: 0, schemas: ['app'] }, other: { replicas: 0, schemas: ['bank'] } },
  });
  await primaryOf('main').query(
    'CREATE TABLE app.kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO app.kv VALUES (1, 0)',
  );
  await primaryOf('other').query(
    'CREATE TABLE bank.kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO bank.kv VALUES (1, 0)',
  );
});

afterAll(async () => {
  await topo?.stop();
});

describe('a committed transaction whose COMMIT PREPARED could not run', () => {
  it('resolves without an error listener: no unhandled error, no process warning; reported by events; visible after recovery', async () => {
    const pgm = new PgMultiverse({
      enableCache: true,
      cluster: { healthCheckInterval: 200, healthCheckTimeout: 10_000 },
      connectionPool: { connectionTimeoutMillis: 10_000 },
      transactions: { coordinatorClusterId: 'main' },
    });
    await pgm.initialize(topo.config);
    expect(pgm.listenerCount('error')).toBe(1); // the facade's own: nothing of the application's
    const committed: PgMultiverseEvents['transactionCommitted'][] = [];
    pgm.on('transactionCommitted', (e) => committed.push(e));
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    // Holds the coordinator's decision insert: 'other' is prepared and waits for the decision.
    const admin = new pg.Client({
      host: '127.0.0.1',
      port: primaryOf('main').serverPort,
      user: 'postgres',
      database: 'postgres',
    });
    await admin.connect();
    try {
      await admin.query('BEGIN; LOCK TABLE pgm_tx.decisions IN ACCESS EXCLUSIVE MODE');
      const tx = pgm.withTransaction(['app', 'bank'], async (t) => {
        await t.query('UPDATE kv SET v = 100 WHERE id = 1', [], { schema: 'app' });
        await t.query('UPDATE kv SET v = 100 WHERE id = 1', [], { schema: 'bank' });
        return 'done';
      });
      const settled = tx.then(
        () => undefined,
        () => undefined,
      );
      await waitFor('the prepared transaction on other', async () => {
        const r = await primaryOf('other').query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_xacts');
        return r.rows[0]!.n > 0;
      });
      // Between PREPARE and COMMIT PREPARED: 'other' becomes unreachable (its session is cut), then the
      // decision is let through.
      primaryOf('other').proxy.refuse();
      await admin.query('COMMIT');
      await settled;
      expect(await tx).toBe('done');
      expect(committed).toHaveLength(1);
      expect(committed[0]!.twoPhase).toBe(true);
      expect(committed[0]!.pendingRecovery).toEqual(['other']);
      // Committed on 'main'; still prepared on 'other' (asked on the server itself).
      expect((await primaryOf('main').query('SELECT v FROM app.kv WHERE id = 1')).rows).toEqual([{ v: 100 }]);
      expect((await primaryOf('other').query('SELECT v FROM bank.kv WHERE id = 1')).rows).toEqual([{ v: 0 }]);

      primaryOf('other').proxy.restore();
      // Statements routed to 'other' wait for recovery to finish the transaction there: never the old value.
      const r = await waitFor('a read on other after recovery', () =>
        pgm.query<{ v: number }>('SELECT v FROM kv WHERE id = 1', [], { schema: 'bank' }),
      );
      expect(r.rows).toEqual([{ v: 100 }]);
      await new Promise((res) => setImmediate(res)); // a process warning is delivered on a later tick
      expect(warnings.map((w) => `${(w as { code?: string }).code}: ${w.message}`)).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      primaryOf('other').proxy.restore();
      await admin.end().catch(() => {});
      await pgm.close();
    }
  });
});
