import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, type Topology } from '../src/index.js';
import { isAlive, viaProxy } from './helpers.js';

describe('fault controls', () => {
  let topo: Topology;
  beforeAll(async () => {
    topo = await startTopology({ clusters: { f: { replicas: 2, schemas: ['s'] } } });
    await topo.cluster('f').primary.query('CREATE TABLE s.t (id int PRIMARY KEY)');
  });
  afterAll(() => topo?.stop());

  it('an immediate stop makes the node unreachable; start() recovers it with its data', async () => {
    const p = topo.cluster('f').primary;
    // synchronous_commit=on for this write, so the row reaches the WAL files before the crash-like stop
    await p.query('SET synchronous_commit = on; INSERT INTO s.t VALUES (1)');
    const pidBefore = p.pid;
    await p.stop({ mode: 'immediate' });
    expect(p.running).toBe(false);
    expect(p.pid).toBeUndefined();
    await expect(viaProxy(p.connection, 'SELECT 1')).rejects.toBeTruthy();
    await p.start();
    expect(p.running).toBe(true);
    expect(p.pid).not.toBe(pidBefore);
    expect(await viaProxy(p.connection, 'SELECT id FROM s.t')).toEqual([{ id: 1 }]);
    // replicas reconnect to the restarted primary and keep streaming
    await p.query('INSERT INTO s.t VALUES (2)');
    for (const r of topo.cluster('f').replicas) {
      await r.waitForCatchUp();
      expect(await viaProxy(r.connection, 'SELECT count(*)::int AS n FROM s.t')).toEqual([{ n: 2 }]);
    }
  });

  it('kill() is a crash (SIGKILL); start() recovers', async () => {
    const r = topo.cluster('f').replicas[1]!;
    const pid = r.pid!;
    await r.kill();
    expect(r.running).toBe(false);
    expect(isAlive(pid)).toBe(false);
    await r.start();
    await r.waitForCatchUp();
    expect(await viaProxy(r.connection, 'SELECT count(*)::int AS n FROM s.t')).toEqual([{ n: 2 }]);
  });

  it('a black-holed node times out a pg connect while the others answer; restore() heals it', async () => {
    const [a, b] = topo.cluster('f').replicas;
    const p = topo.cluster('f').primary;
    a!.proxy.blackhole();
    expect(a!.proxy.mode).toBe('blackhole');
    const c = new pg.Client({ ...a!.connection, connectionTimeoutMillis: 300 });
    c.on('error', () => {});
    await expect(c.connect()).rejects.toThrow(/timeout/i);
    expect(await viaProxy(b!.connection, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await viaProxy(p.connection, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    // the server itself is fine: admin queries bypass the proxy
    expect(await a!.isInRecovery()).toBe(true);
    a!.proxy.restore();
    expect(await viaProxy(a!.connection, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
  });

  it('refuse() resets new connections and cuts open ones', async () => {
    const b = topo.cluster('f').replicas[1]!;
    const open = new pg.Client(b.connection);
    const errors: Error[] = [];
    open.on('error', (e) => errors.push(e));
    await open.connect();
    await open.query('SELECT 1');
    b.proxy.refuse();
    await expect(open.query('SELECT 1')).rejects.toBeTruthy();
    await expect(viaProxy(b.connection, 'SELECT 1')).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|EPIPE/),
    });
    b.proxy.restore();
    expect(await viaProxy(b.connection, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await open.end().catch(() => {});
  });

  it('promote() makes a replica writable', async () => {
    const r = topo.cluster('f').replicas[0]!;
    await expect(viaProxy(r.connection, 'INSERT INTO s.t VALUES (100)')).rejects.toMatchObject({ code: '25006' });
    await r.promote();
    expect(r.role).toBe('primary');
    expect(await r.isInRecovery()).toBe(false);
    await viaProxy(r.connection, 'INSERT INTO s.t VALUES (100)');
    expect(await viaProxy(r.connection, 'SELECT max(id)::int AS m FROM s.t')).toEqual([{ m: 100 }]);
  });
});
