import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, type Topology } from '../src/index.js';
import { viaProxy } from './helpers.js';

describe('streaming replication', () => {
  let topo: Topology;
  beforeAll(async () => {
    topo = await startTopology({ clusters: { main: { replicas: 2, schemas: ['app'] } } });
    await topo.cluster('main').primary.query('CREATE TABLE app.items (id int PRIMARY KEY, label text)');
  });
  afterAll(() => topo?.stop());

  it('starts replicas in recovery and the primary out of it', async () => {
    const c = topo.cluster('main');
    expect(await c.primary.isInRecovery()).toBe(false);
    for (const r of c.replicas) expect(await r.isInRecovery()).toBe(true);
    expect(topo.config.main!.schemas).toEqual(['app']);
    expect(topo.nodes.map((n) => n.key)).toEqual(['main/primary', 'main/replica-1', 'main/replica-2']);
  });

  it('a row inserted on the primary is read back from each replica (through its proxy)', async () => {
    const c = topo.cluster('main');
    await viaProxy(c.primary.connection, "INSERT INTO app.items VALUES (1, 'one')");
    for (const r of c.replicas) {
      await r.waitForCatchUp();
      const rows = await viaProxy<{ label: string }>(r.connection, 'SELECT label FROM app.items WHERE id = 1');
      expect(rows).toEqual([{ label: 'one' }]);
    }
  });

  it('pausing replay makes a replica lag by bytes; resuming catches up', async () => {
    const c = topo.cluster('main');
    const [paused, other] = c.replicas as [(typeof c.replicas)[0], (typeof c.replicas)[0]];
    await paused.pauseReplay();
    try {
      await c.primary.query("INSERT INTO app.items SELECT g, repeat('x', 200) FROM generate_series(2, 2000) g");
      await other.waitForCatchUp();
      expect(await paused.lagBytes()).toBeGreaterThan(100_000);
      expect(await other.lagBytes()).toBe(0);
      const lagging = await viaProxy<{ n: string }>(paused.connection, 'SELECT count(*) AS n FROM app.items');
      expect(lagging[0]!.n).toBe('1');
      const current = await viaProxy<{ n: string }>(other.connection, 'SELECT count(*) AS n FROM app.items');
      expect(current[0]!.n).toBe('2000');
    } finally {
      await paused.resumeReplay();
    }
    await paused.waitForCatchUp();
    expect(await paused.lagBytes()).toBe(0);
    const rows = await viaProxy<{ n: string }>(paused.connection, 'SELECT count(*) AS n FROM app.items');
    expect(rows[0]!.n).toBe('2000');
  });

  it('replicas refuse writes (they are hot standbys)', async () => {
    const r = topo.cluster('main').replicas[0]!;
    await expect(viaProxy(r.connection, 'INSERT INTO app.items VALUES (9999, null)')).rejects.toMatchObject({
      code: '25006',
    });
  });

  it('nodes have 2PC enabled on primary and replicas', async () => {
    for (const n of topo.nodes) {
      const r = await n.query<{ v: string }>("SELECT current_setting('max_prepared_transactions') AS v");
      expect(Number(r.rows[0]!.v)).toBeGreaterThan(0);
    }
  });
});

describe('replicas made with pg_basebackup', () => {
  it('stream like template-made ones', async () => {
    const topo = await startTopology({
      clusters: { b: { replicas: 2, schemas: ['bb'] } },
      replicaMethod: 'basebackup',
    });
    try {
      expect(topo.binaries.hasBasebackup).toBe(true);
      const { primary, replicas } = topo.cluster('b');
      await primary.query('CREATE TABLE bb.t (id int); INSERT INTO bb.t VALUES (5)');
      for (const r of replicas) {
        await r.waitForCatchUp();
        expect(await r.isInRecovery()).toBe(true);
        expect(await viaProxy(r.connection, 'SELECT id FROM bb.t')).toEqual([{ id: 5 }]);
      }
    } finally {
      await topo.stop();
    }
  });
});
