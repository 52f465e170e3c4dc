// Consistency through the cache and through failures, on a topology of our own (faults:
// paused replay, a primary cut off right after a commit). Issue 13, items 1-3.
import { createRouter } from '@pg-multiverse/router';
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import fc from 'fast-check';
import pg from 'pg';
import { PgMultiverse } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let topo: Topology;

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const replica = () => topo.cluster('main').replicas[0]!;
const primaryOf = (c: string) => topo.cluster(c).primary;

beforeAll(async () => {
  topo = await startTopology({
    clusters: { main: { replicas: 1, schemas: ['app'] }, other: { replicas: 0, schemas: ['bank'] } },
  });
  await primaryOf('main').query(
    'CREATE TABLE app.kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO app.kv SELECT g, 0 FROM generate_series(1, 20) g',
  );
  await primaryOf('other').query(
    'CREATE TABLE bank.kv (id int PRIMARY KEY, v int NOT NULL); INSERT INTO bank.kv VALUES (1, 0)',
  );
  await replica().waitForCatchUp();
});

afterAll(async () => {
  await topo?.stop();
});

function facade(): PgMultiverse {
  // Probes every 200 ms so that a node cut off by a test is seen back quickly. The tests cut nodes
  // off by refusing (at once), so the timeouts are generous: a slow probe on a busy machine is no failure.
  return new PgMultiverse({
    enableCache: true,
    cluster: { healthCheckInterval: 200, healthCheckTimeout: 10_000, retryAttempts: 1 },
    connectionPool: { connectionTimeoutMillis: 10_000 },
  });
}

describe('cached reads satisfy their consistency level', () => {
  it('after an eventual read fills the cache from a paused replica, session, strong and primary reads still see the write', async () => {
    const pgm = facade();
    await pgm.initialize(topo.config);
    await replica().pauseReplay();
    try {
      const sql = 'SELECT v FROM kv WHERE id = $1';
      await pgm.runWithSession(async () => {
        await pgm.query('UPDATE kv SET v = 1 WHERE id = 1', [], { schema: 'app' });
        // The replica has not replayed the write: the eventual read fills the cache with the old value.
        const eventual = await pgm.query<{ v: number }>(sql, [1], {
          schema: 'app',
          cache: true,
          consistency: 'eventual',
        });
        expect(eventual.rows).toEqual([{ v: 0 }]);
        for (const o of [{ consistency: 'session' }, { consistency: 'strong' }, { role: 'primary' }] as const) {
          const r = await pgm.query<{ v: number }>(sql, [1], { schema: 'app', cache: true, ...o });
          expect(r.rows, JSON.stringify(o)).toEqual([{ v: 1 }]);
        }
      });
      // The primary's fill replaced the replica's: an eventual read now gets it from the cache
      // (the replica, still paused, would answer 0).
      const again = await pgm.query<{ v: number }>(sql, [1], { schema: 'app', cache: true, consistency: 'eventual' });
      expect(again.rows).toEqual([{ v: 1 }]);
      const hits = pgm.getMetrics().cache?.hits ?? 0;
      expect(hits).toBeGreaterThan(0);
    } finally {
      await replica().resumeReplay();
      await replica().waitForCatchUp();
      await pgm.close();
    }
  });

  it('a strong read never joins an eventual load already in flight for the same key', async () => {
    const pgm = facade();
    await pgm.initialize(topo.config);
    await replica().pauseReplay();
    try {
      await pgm.query('UPDATE kv SET v = v + 1 WHERE id = 2', [], { schema: 'app' });
      const [fresh] = (await primaryOf('main').query('SELECT v FROM app.kv WHERE id = 2')).rows as Array<{ v: number }>;
      // A slow eventual load (on the paused replica) is in flight when the strong lookup arrives.
      const sql = 'SELECT v, pg_sleep(0.2) IS NULL AS slept FROM kv WHERE id = $1';
      const eventual = pgm.query<{ v: number }>(sql, [2], { schema: 'app', cache: true, consistency: 'eventual' });
      const strong = pgm.query<{ v: number }>(sql, [2], { schema: 'app', cache: true, consistency: 'strong' });
      const [e, s] = await Promise.all([eventual, strong]);
      expect(s.rows[0]!.v).toBe(fresh!.v);
      expect(e.rows[0]!.v).toBe(fresh!.v - 1);
    } finally {
      await replica().resumeReplay();
      await replica().waitForCatchUp();
      await pgm.close();
    }
  });

  it('fast-check: random interleavings of reads (cached or not, every level), writes and replica pauses never read older than allowed', async () => {
    const pgm = facade();
    await pgm.initialize(topo.config);
    const levels = ['eventual', 'session', 'strong', 'primary'] as const;
    const op = fc.oneof(
      { weight: 3, arbitrary: fc.record({ t: fc.constant('write' as const), id: fc.integer({ min: 10, max: 11 }) }) },
      {
        weight: 6,
        arbitrary: fc.record({
          t: fc.constant('read' as const),
          id: fc.integer({ min: 10, max: 11 }),
          level: fc.constantFrom(...levels),
          cached: fc.integer({ min: 0, max: 4 }).map((n) => n !== 0),
          variant: fc.integer({ min: 0, max: 3 }).map((n) => (n === 0 ? 1 : 0)),
        }),
      },
      { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('pause' as const, 'resume' as const) }) },
    );
    // Each step runs its operations concurrently: writes and reads interleave, loads overlap.
    const steps = fc.array(fc.array(op, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 12 });
    let paused = false;
    let checked = 0;
    // Pauses and resumes go through one lane, in the order the step asked for them: each opens its own
    // connection, so two sent at once could reach the server in the other order.
    let replayLane: Promise<unknown> = Promise.resolve();
    const setReplay = (pause: boolean) => {
      replayLane = replayLane.then(() => (pause ? replica().pauseReplay() : replica().resumeReplay()));
      return replayLane;
    };
    try {
      await fc.assert(
        fc.asyncProperty(steps, async (plan) => {
          // Each run starts with the replica replaying (runs are independent, shrinking stays meaningful).
          await replayLane;
          if (paused) {
            paused = false;
            await setReplay(false);
          }
          const committed = new Map<number, number>();
          for (const id of [10, 11]) {
            const r = await primaryOf('main').query('SELECT v FROM app.kv WHERE id = $1', [id]);
            committed.set(id, (r.rows[0] as { v: number }).v);
          }
          // Writes of this run, made in its session (earlier runs wrote in other sessions).
          const own = new Map<number, number>();
          await pgm.runWithSession(async () => {
            for (const step of plan) {
              // What was committed before a step starts is what strong and primary reads of the step must
              // see at least; session reads must see at least the session's own writes completed before it.
              const floor = new Map(committed);
              const ownFloor = new Map(own);
              const reads: Array<{ id: number; v: number }> = [];
              await Promise.all(
                step.map(async (o) => {
                  if (o.t === 'pause' && !paused) {
                    paused = true;
                    await setReplay(true);
                  } else if (o.t === 'resume' && paused) {
                    paused = false;
                    await setReplay(false);
                  } else if (o.t === 'write') {
                    const r = await pgm.query<{ v: number }>(
                      'UPDATE kv SET v = v + 1 WHERE id = $1 RETURNING v',
                      [o.id],
                      {
                        schema: 'app',
                      },
                    );
                    const v = r.rows[0]!.v;
                    if (v > (committed.get(o.id) ?? 0)) committed.set(o.id, v);
                    if (v > (own.get(o.id) ?? 0)) own.set(o.id, v);
                  } else if (o.t === 'read') {
                    const sql =
                      o.variant === 0 ? 'SELECT v FROM kv WHERE id = $1' : 'SELECT v FROM app.kv WHERE id = $1';
                    const opts =
                      o.level === 'primary'
                        ? { schema: 'app', role: 'primary' as const, cache: o.cached }
                        : { schema: 'app', consistency: o.level, cache: o.cached };
                    const r = await pgm.query<{ v: number }>(sql, [o.id], opts);
                    const v = r.rows[0]!.v;
                    checked++;
                    reads.push({ id: o.id, v });
                    const least =
                      o.level === 'strong' || o.level === 'primary'
                        ? floor.get(o.id)!
                        : o.level === 'session'
                          ? (ownFloor.get(o.id) ?? 0)
                          : 0;
                    expect(v, `${o.level} read (cached: ${o.cached}) of id ${o.id}`).toBeGreaterThanOrEqual(least);
                  }
                }),
              );
              // Never from the future, whatever the level (a write of the same step may have been seen).
              for (const r of reads) expect(r.v).toBeLessThanOrEqual(committed.get(r.id)!);
            }
          });
        }),
        { numRuns: 50 },
      );
    } finally {
      await replayLane.catch(() => undefined);
      await replica().resumeReplay();
      await replica().waitForCatchUp();
      await pgm.close();
    }
    expect(checked).toBeGreaterThan(0);
  });
});

describe('a committed transaction is what the caller gets', () => {
  it('withTransaction in a session resolves although the primary is cut off right after the commit; later session reads still see it', async () => {
    const pgm = facade();
    await pgm.initialize(topo.config);
    const errors: Error[] = [];
    pgm.on('error', (e) => errors.push(e));
    await replica().pauseReplay();
    const token = pgm.createSession();
    try {
      // Right after the commit (before the facade asks for the WAL position), the primary becomes unreachable.
      pgm.once('transactionCommitted', () => primaryOf('main').proxy.refuse());
      const result = await pgm.runWithSession(
        () =>
          pgm.withTransaction(['app', 'bank'], async (tx) => {
            await tx.query('UPDATE kv SET v = 100 WHERE id = 3', [], { schema: 'app' });
            await tx.query('UPDATE kv SET v = 100 WHERE id = 1', [], { schema: 'bank' });
            return 'done';
          }),
        token,
      );
      expect(result).toBe('done');
      // Both sides committed (asked on the servers themselves, not through the proxy).
      expect((await primaryOf('main').query('SELECT v FROM app.kv WHERE id = 3')).rows).toEqual([{ v: 100 }]);
      expect((await primaryOf('other').query('SELECT v FROM bank.kv WHERE id = 1')).rows).toEqual([{ v: 100 }]);
      // The session could not learn main's position: it is recorded as unknown, never as "nothing written".
      expect(String(token)).toContain('main=FFFFFFFF/FFFFFFFF');

      primaryOf('main').proxy.restore();
      // Once the primary answers again, the session's read learns a position that includes the write;
      // the paused replica (which has not replayed it) must not answer.
      const r = await waitFor('a session read after the primary is back', () =>
        pgm.runWithSession(
          () =>
            pgm.query<{ v: number }>('SELECT v FROM kv WHERE id = 3', [], { schema: 'app', consistency: 'session' }),
          token,
        ),
      );
      expect(r.rows).toEqual([{ v: 100 }]);
      expect(String(token)).not.toContain('FFFFFFFF/FFFFFFFF');
    } finally {
      primaryOf('main').proxy.restore();
      await replica().resumeReplay();
      await replica().waitForCatchUp();
      await pgm.close();
    }
  });
});

describe('a committed transaction is visible to every read after it', () => {
  it('a participant whose COMMIT PREPARED was left to recovery holds reads until recovery finished it', async () => {
    const other = primaryOf('other');
    let armed = false;
    // The application's own pool for other's primary (a real pg.Pool): its proxy starts refusing right when
    // COMMIT PREPARED is sent there, so the commit protocol leaves that participant to recovery.
    class WatchingClient extends pg.Client {
      override query(...args: unknown[]): never {
        if (armed && typeof args[0] === 'string' && args[0].startsWith('COMMIT PREPARED')) other.proxy.refuse();
        return (super.query as (...a: unknown[]) => never).apply(this, args);
      }
    }
    const pgm = new PgMultiverse({
      transactions: { recoveryIntervalMs: 0 },
      providers: {
        'other/primary': new pg.Pool({ ...(topo.config.other!.primary as pg.PoolConfig), Client: WatchingClient }),
      },
    });
    await pgm.initialize(topo.config);
    let pending: string[] = [];
    pgm.on('transactionCommitted', (e) => {
      pending = e.pendingRecovery;
      armed = false;
      other.proxy.restore();
    });
    try {
      armed = true;
      await pgm.withTransaction(['app', 'bank'], async (tx) => {
        await tx.query('UPDATE kv SET v = 500 WHERE id = 6', [], { schema: 'app' });
        await tx.query('UPDATE kv SET v = 500 WHERE id = 1', [], { schema: 'bank' });
      });
      expect(pending).toEqual(['other']); // the case under test happened
      // After the call, on both sides, a read sees the write, or fails while other's primary is not back:
      // never the value from before the commit.
      const a = await pgm.query<{ v: number }>('SELECT v FROM kv WHERE id = 6', [], {
        schema: 'app',
        consistency: 'strong',
      });
      expect(a.rows[0]!.v).toBe(500);
      const failures: string[] = [];
      const b = await waitFor('a read on the participant left to recovery', async () => {
        try {
          return await pgm.query<{ v: number }>('SELECT v FROM kv WHERE id = 1', [], { schema: 'bank' });
        } catch (err) {
          failures.push((err as { code?: string }).code ?? String(err));
          throw err;
        }
      });
      expect(b.rows[0]!.v).toBe(500);
      expect(failures.filter((c) => c !== 'NO_AVAILABLE_NODE')).toEqual([]);
      expect((await other.query('SELECT count(*)::int AS n FROM pg_prepared_xacts')).rows).toEqual([{ n: 0 }]);
    } finally {
      other.proxy.restore();
      await pgm.close();
    }
  });
});

describe('a committed write is what the caller gets', () => {
  it('a session write whose WAL position cannot be read afterwards resolves; the session still reads it', async () => {
    // The primary's pool is the application's own (a real pg.Pool): its connection breaks right when the
    // router asks for the position after the write, i.e. after the write committed.
    const pool = new pg.Pool({ ...(topo.config.main!.primary as pg.PoolConfig), max: 4 });
    let armed = false;
    pool.on('connect', (client) => {
      const query = client.query.bind(client) as (...a: unknown[]) => unknown;
      (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
        if (armed && typeof args[0] === 'string' && args[0].includes('pg_current_wal_insert_lsn()')) {
          armed = false;
          (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
        }
        return query(...args);
      };
    });
    const router = createRouter(topo.config, {
      providers: { 'main/primary': pool },
      monitor: { healthCheckInterval: 200, retryAttempts: 1 },
    });
    await router.start();
    await replica().pauseReplay();
    try {
      const token = router.createSessionToken();
      armed = true;
      const w = await router.query('UPDATE kv SET v = 77 WHERE id = 5', [], { schema: 'app', sessionToken: token });
      expect(armed).toBe(false); // the fault fired
      expect(w.rowCount).toBe(1);
      expect((await primaryOf('main').query('SELECT v FROM app.kv WHERE id = 5')).rows).toEqual([{ v: 77 }]);
      expect(String(token)).toContain('main=FFFFFFFF/FFFFFFFF');
      const r = await waitFor('a session read of the write', () =>
        router.query<{ v: number }>('SELECT v FROM kv WHERE id = 5', [], {
          schema: 'app',
          consistency: 'session',
          sessionToken: token,
        }),
      );
      expect(r.rows).toEqual([{ v: 77 }]);
      expect(String(token)).not.toContain('FFFFFFFF/FFFFFFFF');
    } finally {
      await replica().resumeReplay();
      await replica().waitForCatchUp();
      await router.close();
      await pool.end();
    }
  });
});

describe('a replica that is only behind is not failing', () => {
  it('a session read re-run on the primary is not counted as an error of the replica', async () => {
    const router = createRouter(topo.config, { monitor: { healthCheckInterval: 60_000 } });
    await router.start();
    await replica().pauseReplay();
    try {
      const token = router.createSessionToken();
      await router.query('UPDATE kv SET v = v + 1 WHERE id = 4', [], { schema: 'app', sessionToken: token });
      const replicaNode = () => router.nodeStates().find((n) => n.nodeId === 'replica-1')!;
      let reran = 0;
      for (let i = 0; i < 10; i++) {
        const r = await router.query('SELECT v FROM kv WHERE id = 4', [], {
          schema: 'app',
          consistency: 'session',
          sessionToken: token,
        });
        if (r.route.reason === 'session-primary') reran++;
      }
      // At least the first read tried the replica, found it behind and ran on the primary.
      expect(reran).toBeGreaterThan(0);
      expect(replicaNode().errors).toBe(0);
      expect(replicaNode().healthy).toBe(true);
    } finally {
      await replica().resumeReplay();
      await replica().waitForCatchUp();
      await router.close();
    }
  });
});
