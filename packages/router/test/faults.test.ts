// Real faults on a topology of our own: one cluster, a primary and two streaming replicas.
// The tests run in order and each leaves the topology usable for the next.
import { isPgmError } from '@pg-multiverse/core';
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, type Router, type RouterEvents } from '../src/index.js';

const INTERVAL = 200;
// Killed and stopped nodes refuse at once; these timeouts bound only the black-holed ones. At 800 ms a
// loaded machine's healthy primary timed out connections (a retried read failed, CONNECTION_FAILED).
const PROBE_TIMEOUT = 5_000;
const CONNECT_TIMEOUT = 5_000;

let topo: Topology;
let router: Router;
const seen: Array<{ event: keyof RouterEvents; data: Record<string, unknown> }> = [];

function events(event: keyof RouterEvents, match: Record<string, unknown> = {}) {
  return seen.filter((e) => e.event === event && Object.entries(match).every(([k, v]) => e.data[k] === v));
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await cond()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const node = (id: string) => router.nodeStates().find((n) => n.nodeId === id)!;

beforeAll(async () => {
  topo = await startTopology({ clusters: { main: { replicas: 2, schemas: ['app'] } } });
  await topo.cluster('main').primary.query('CREATE TABLE app.kv (id int primary key, v text)');
  for (const r of topo.cluster('main').replicas) await r.waitForCatchUp();
  router = createRouter(topo.config, {
    monitor: {
      healthCheckInterval: INTERVAL,
      healthCheckTimeout: PROBE_TIMEOUT,
      maxFailuresBeforeMarkDown: 2,
      retryAttempts: 1,
      lagWarningMs: 500,
    },
    connectionPool: { max: 4, connectionTimeoutMillis: CONNECT_TIMEOUT, queryTimeout: 30_000 },
  });
  const names: Array<keyof RouterEvents> = [
    'nodeDown',
    'nodeUp',
    'clusterDown',
    'clusterRecovered',
    'roleChanged',
    'primaryChanged',
    'splitBrain',
    'replicaLagging',
    'replicaCaughtUp',
    'queryRetried',
    'readFallback',
  ];
  for (const event of names) {
    router.on(event, ((data: Record<string, unknown>) => seen.push({ event, data })) as never);
  }
  await router.start();
});

afterAll(async () => {
  await router?.close();
  await topo?.stop();
});

describe('faults', () => {
  it('kill a replica under continuous read load: no failed read, marked down, marked up after restart', async () => {
    const replica1 = topo.cluster('main').replicas[0]!;
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const served = new Set<string>();
    const loop = async () => {
      while (!stop) {
        try {
          const r = await router.query('SELECT v FROM kv LIMIT 1', [], { schema: 'app' });
          served.add(r.route.nodeId);
          ok++;
        } catch (err) {
          failures.push(err);
        }
      }
    };
    const loops = Array.from({ length: 6 }, loop);
    try {
      await waitFor(() => ok > 100, 'warm-up reads');
      await replica1.kill();
      await waitFor(() => events('nodeDown', { nodeId: 'replica-1' }).length > 0, 'replica-1 marked down');
      const afterDown = ok;
      await waitFor(() => ok > afterDown + 100, 'reads after mark-down');
    } finally {
      stop = true;
      await Promise.all(loops);
    }
    try {
      expect(failures).toEqual([]);
      expect(node('replica-1').healthy).toBe(false);
      expect(served.has('replica-2')).toBe(true);
    } finally {
      // The next tests need it, whatever happened here.
      await replica1.start();
    }
    await waitFor(() => events('nodeUp', { nodeId: 'replica-1' }).length > 0, 'replica-1 marked up');
    expect(events('nodeUp', { nodeId: 'replica-1' })[0]!.data.downtime).toBeGreaterThan(0);
    await replica1.waitForCatchUp();
    await waitFor(async () => {
      const r = await router.query('SELECT 1', [], { schema: 'app' });
      return r.route.nodeId === 'replica-1';
    }, 'reads back on replica-1');
  });

  it('pause replay: session reads never see stale data, bounded reads avoid the lagging replica', async () => {
    const replica2 = topo.cluster('main').replicas[1]!;
    await replica2.pauseReplay();
    try {
      const token = router.createSessionToken();
      const servedBy = new Set<string>();
      for (let i = 1; i <= 30; i++) {
        await router.query('INSERT INTO kv VALUES ($1, $2)', [1000 + i, `v${i}`], {
          schema: 'app',
          sessionToken: token,
        });
        const r = await router.query<{ v: string }>('SELECT v FROM kv WHERE id = $1', [1000 + i], {
          schema: 'app',
          consistency: 'session',
          sessionToken: token,
        });
        expect(r.rows).toEqual([{ v: `v${i}` }]);
        servedBy.add(r.route.nodeId);
      }
      // replica-2 cannot have served any of them: it has replayed none of these writes.
      expect(servedBy.has('replica-2')).toBe(false);

      // The monitor sees replica-2 fall behind (writes keep arriving, replay is paused).
      await waitFor(async () => {
        await router.query(
          'INSERT INTO kv VALUES ($1, $2) ON CONFLICT (id) DO NOTHING',
          [2000 + (Date.now() % 100000), 'x'],
          {
            schema: 'app',
          },
        );
        return node('replica-2').lagMs > 600;
      }, 'replica-2 lagging');
      expect(events('replicaLagging', { nodeId: 'replica-2' }).length).toBeGreaterThan(0);
      for (let i = 0; i < 20; i++) {
        const r = await router.query('SELECT 1', [], { schema: 'app', consistency: 'bounded', maxLagMs: 300 });
        expect(r.route.nodeId).not.toBe('replica-2');
      }
      // Eventual reads may still use it.
      await waitFor(async () => {
        const r = await router.query('SELECT 1', [], { schema: 'app', consistency: 'eventual' });
        return r.route.nodeId === 'replica-2';
      }, 'eventual read on replica-2');
    } finally {
      await replica2.resumeReplay();
    }
    await replica2.waitForCatchUp();
    await waitFor(() => events('replicaCaughtUp', { nodeId: 'replica-2' }).length > 0, 'replica-2 caught up');
  });

  it('black-holed nodes: nothing waits past the configured timeouts, probes time out, reads fail over', async () => {
    const { primary, replicas } = topo.cluster('main');
    const replica1 = replicas[0]!;
    replica1.proxy.blackhole();
    try {
      // Reads keep working (the black-holed replica's attempts time out and are retried elsewhere).
      for (let i = 0; i < 10; i++) {
        const r = await router.query('SELECT 1 AS one', [], { schema: 'app' });
        expect(r.rows).toEqual([{ one: 1 }]);
      }
      await waitFor(() => events('nodeDown', { nodeId: 'replica-1' }).length > 1, 'black-holed replica marked down');
      // Timeouts are not refusals: marked down after maxFailuresBeforeMarkDown (2) of them, not at the first.
      expect(events('nodeDown', { nodeId: 'replica-1' })[1]!.data.failureCount).toBe(2);
    } finally {
      replica1.proxy.restore();
    }
    await waitFor(() => node('replica-1').healthy, 'replica-1 back');

    primary.proxy.blackhole();
    try {
      const started = Date.now();
      const err = await router.query('INSERT INTO kv VALUES (3, $1)', ['x'], { schema: 'app' }).catch((e) => e);
      const waited = Date.now() - started;
      expect(isPgmError(err)).toBe(true);
      expect(['CONNECTION_FAILED', 'NO_AVAILABLE_NODE']).toContain(err.code);
      // It fails on the connection timeout (the codes above; a query timeout would be another code),
      // and does not hang: a bound generous enough for a busy machine, not a measure of speed.
      expect(waited).toBeLessThan(30_000);
      await waitFor(() => events('clusterDown', { clusterId: 'main' }).length > 0, 'cluster down');
      // Once marked down, writes fail at once with a clear error.
      await expect(router.query('INSERT INTO kv VALUES (4, $1)', ['x'], { schema: 'app' })).rejects.toMatchObject({
        code: 'NO_AVAILABLE_NODE',
      });
      // healthCheck() itself is bounded by the probe timeout.
      const h = await router.healthCheck();
      expect(h.main!.healthy).toBe(false);
      expect(h.main!.nodes.primary!.healthy).toBe(false);
      expect(h.main!.error).toMatch(/primary/);
    } finally {
      primary.proxy.restore();
    }
    await waitFor(() => events('clusterRecovered', { clusterId: 'main' }).length > 0, 'cluster recovered');
    const w = await router.query('INSERT INTO kv VALUES (5, $1) RETURNING id', ['ok'], { schema: 'app' });
    expect(w.rows).toEqual([{ id: 5 }]);
  });

  it('every replica unreachable: reads fall back to the primary with readFallback, and come back', async () => {
    const { replicas } = topo.cluster('main');
    // Counted from here: earlier tests may have fallen back too.
    const fallbacksBefore = events('readFallback', { clusterId: 'main', nodeId: 'primary' }).length;
    for (const r of replicas) r.proxy.refuse();
    try {
      await waitFor(async () => {
        const r = await router.query('SELECT 1', [], { schema: 'app' }).catch(() => undefined);
        return r?.route.reason === 'fallback-primary' && r.route.nodeId === 'primary';
      }, 'fallback to the primary');
      expect(events('readFallback', { clusterId: 'main', nodeId: 'primary' }).length - fallbacksBefore).toBe(1);
      const r = await router.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec', [], { schema: 'app' });
      expect(r.rows).toEqual([{ rec: false }]);
    } finally {
      for (const r of replicas) r.proxy.restore();
    }
    await waitFor(async () => {
      const r = await router.query('SELECT 1', [], { schema: 'app' });
      return r.route.role === 'replica';
    }, 'reads back on replicas');
  });

  it('promote a replica and stop the old primary: writes move to the new primary after detection', async () => {
    const { primary, replicas } = topo.cluster('main');
    const replica1 = replicas[0]!;
    await replica1.waitForCatchUp();
    await replica1.promote();
    await waitFor(
      () => events('roleChanged', { nodeId: 'replica-1', from: 'replica', to: 'primary' }).length > 0,
      'roleChanged',
    );
    // Both claim to be primary while the old one runs: writes are refused, not sent to either. The roles are
    // judged once the round's other probes are in, after roleChanged: wait for the verdict rather than assume it.
    await waitFor(() => events('splitBrain', { clusterId: 'main' }).length > 0, 'splitBrain');
    await expect(router.query('INSERT INTO kv VALUES (6, $1)', ['x'], { schema: 'app' })).rejects.toMatchObject({
      code: 'SPLIT_BRAIN',
    });
    await primary.stop({ mode: 'fast' });
    await waitFor(() => events('primaryChanged', { to: 'replica-1' }).length > 0, 'primaryChanged');
    const w = await router.query<{ rec: boolean }>(
      'INSERT INTO kv VALUES (7, $1) RETURNING pg_is_in_recovery() AS rec',
      ['after failover'],
      { schema: 'app' },
    );
    expect(w.route.nodeId).toBe('replica-1');
    expect(w.rows).toEqual([{ rec: false }]);
    // The tx/migrate packages' view of the primary follows too.
    expect(router.primary('main').id).toBe('main/replica-1');
    const r = await router.primary('main').query<{ v: string }>('SELECT v FROM app.kv WHERE id = 7');
    expect(r.rows).toEqual([{ v: 'after failover' }]);
  });
});
