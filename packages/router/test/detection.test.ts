// Failure detection with the default monitor settings, except an interval of one hour:
// a dead node must be detected from the query path (plus its confirmation probe), and a
// restarted one found again by the short re-probe of failing nodes, never by a probe round.
// No timing is asserted: the tests wait for events (the one-hour interval is the proof).
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, type Router, type RouterEvents } from '../src/index.js';

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
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Closed-loop load until stopped: reads (and writes, if asked) back to back. */
function load(opts: { readers: number; writers: number }) {
  const state = {
    stop: false,
    reads: 0,
    writes: 0,
    failedReads: [] as unknown[],
    failedWrites: 0,
    servedBy: new Map<string, number>(),
    /** Reads routed after `mark` was set, by node. */
    servedAfterMark: new Map<string, number>(),
    mark: false,
  };
  let key = 0;
  const reader = async () => {
    while (!state.stop) {
      const afterMark = state.mark;
      try {
        const r = await router.query('SELECT v FROM kv LIMIT 1', [], { schema: 'app' });
        state.reads++;
        const by = afterMark ? state.servedAfterMark : state.servedBy;
        by.set(r.route.nodeId, (by.get(r.route.nodeId) ?? 0) + 1);
      } catch (err) {
        state.failedReads.push(err);
      }
    }
  };
  const writer = async () => {
    while (!state.stop) {
      try {
        await router.query(
          'INSERT INTO kv VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v',
          [key++ % 1000, 'w'],
          { schema: 'app' },
        );
        state.writes++;
      } catch {
        state.failedWrites++;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
  };
  const loops = [...Array.from({ length: opts.readers }, reader), ...Array.from({ length: opts.writers }, writer)];
  return Object.assign(state, {
    async end() {
      state.stop = true;
      await Promise.all(loops);
    },
  });
}

beforeAll(async () => {
  topo = await startTopology({ clusters: { main: { replicas: 2, schemas: ['app'] } } });
  await topo.cluster('main').primary.query('CREATE TABLE app.kv (id int primary key, v text)');
  await topo.cluster('main').primary.query("INSERT INTO app.kv VALUES (0, 'x')");
  for (const r of topo.cluster('main').replicas) await r.waitForCatchUp();
  // Defaults everywhere (timeout 5 s, 3 attempts, 3 failures before mark-down) but a one-hour interval.
  router = createRouter(topo.config, { monitor: { healthCheckInterval: 3_600_000 } });
  const names: Array<keyof RouterEvents> = ['nodeDown', 'nodeUp', 'clusterDown', 'clusterRecovered', 'primaryChanged'];
  for (const event of names) {
    router.on(event, ((data: Record<string, unknown>) => seen.push({ event, data })) as never);
  }
  await router.start();
});

afterAll(async () => {
  await router?.close();
  await topo?.stop();
});

describe('failure detection without waiting for a probe round', () => {
  it('a replica stopped under read load: nodeDown, no reads routed to it, nodeUp and reads after restart', async () => {
    const replica1 = topo.cluster('main').replicas[0]!;
    const l = load({ readers: 4, writers: 0 });
    try {
      await waitFor(() => (l.servedBy.get('replica-1') ?? 0) > 20, 'warm-up reads on replica-1');
      const down = new Promise<void>((resolve) =>
        router.on('nodeDown', (e) => {
          if (e.nodeId === 'replica-1') {
            l.mark = true;
            resolve();
          }
        }),
      );
      await replica1.stop({ mode: 'immediate' });
      await down;
      const readsAtDown = l.reads;
      await waitFor(() => l.reads > readsAtDown + 200, 'reads after mark-down');
    } finally {
      await l.end();
    }
    // Reads survived the kill (retried on another node) and none was routed to it once it was down.
    expect(l.failedReads).toEqual([]);
    expect(l.servedAfterMark.get('replica-1')).toBeUndefined();
    expect(l.servedAfterMark.get('replica-2')).toBeGreaterThan(0);
    // One refused probe was enough (not maxFailuresBeforeMarkDown = 3 of them).
    expect(events('nodeDown', { nodeId: 'replica-1' })[0]!.data.failureCount).toBe(1);
    expect(events('clusterDown')).toEqual([]);

    await replica1.start();
    await waitFor(() => events('nodeUp', { nodeId: 'replica-1' }).length > 0, 'replica-1 marked up');
    expect(events('nodeUp', { nodeId: 'replica-1' })[0]!.data.downtime).toBeGreaterThan(0);
    await waitFor(async () => {
      const r = await router.query('SELECT 1', [], { schema: 'app' });
      return r.route.nodeId === 'replica-1';
    }, 'reads back on replica-1');
  });

  it('a primary stopped under read and write load: nodeDown and clusterDown, then nodeUp, clusterRecovered and writes', async () => {
    const { primary } = topo.cluster('main');
    const l = load({ readers: 2, writers: 2 });
    try {
      await waitFor(() => l.writes > 20, 'warm-up writes');
      await primary.stop({ mode: 'immediate' });
      await waitFor(() => events('nodeDown', { nodeId: 'primary' }).length > 0, 'primary marked down');
      await waitFor(() => events('clusterDown', { clusterId: 'main' }).length > 0, 'clusterDown');
      expect(String(events('clusterDown', { clusterId: 'main' })[0]!.data.reason)).toMatch(/primary/);
      expect(events('nodeDown', { nodeId: 'primary' })[0]!.data.failureCount).toBe(1);
      // Writes fail fast with a clear error while it is down; reads go on on the replicas.
      await expect(router.query('INSERT INTO kv VALUES (-1, $1)', ['x'], { schema: 'app' })).rejects.toMatchObject({
        code: 'NO_AVAILABLE_NODE',
      });
      const reads = l.reads;
      await waitFor(() => l.reads > reads + 50, 'reads while the primary is down');

      await primary.start();
      await waitFor(() => events('nodeUp', { nodeId: 'primary' }).length > 0, 'primary marked up');
      await waitFor(() => events('clusterRecovered', { clusterId: 'main' }).length > 0, 'clusterRecovered');
      const writes = l.writes;
      await waitFor(() => l.writes > writes + 20, 'writes after the restart');
    } finally {
      await l.end();
    }
    expect(l.failedWrites).toBeGreaterThan(0);
    expect(events('primaryChanged')).toEqual([]);
    const w = await router.query<{ id: number }>('INSERT INTO kv VALUES (-2, $1) RETURNING id', ['ok'], {
      schema: 'app',
    });
    expect(w.rows).toEqual([{ id: -2 }]);
    expect(w.route.nodeId).toBe('primary');
  });
});
