import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { reapOrphans, startTopology } from '../src/index.js';
import { descendants, isAlive, useOwnTmpBase } from './helpers.js';

// Its own base directory: other runs sharing /tmp or /dev/shm reap orphans there, and must not
// reap the topology this file fakes an owner's death for before its own reapOrphans does.
useOwnTmpBase('stop-cleanup');

describe('topo.stop()', () => {
  it('leaves no server process of the kit behind and removes the temp dir', async () => {
    const topo = await startTopology({ clusters: { c: { replicas: 1 }, d: {} }, redis: true });
    const pidsFile = JSON.parse(readFileSync(join(topo.dir, 'pids.json'), 'utf8')) as {
      owner: number;
      postgres: { pid: number; dataDir: string }[];
      redis?: number;
    };
    expect(pidsFile.owner).toBe(process.pid);
    expect(pidsFile.postgres).toHaveLength(3);
    const postmasters = pidsFile.postgres.map((n) => n.pid);
    expect(topo.pids().sort()).toEqual([...postmasters, pidsFile.redis!].sort());
    const children = postmasters.flatMap(descendants);
    expect(children.length).toBeGreaterThanOrEqual(postmasters.length * 3); // checkpointer, walwriter, ...
    const all = [...postmasters, ...children, pidsFile.redis!];
    for (const pid of all) expect(isAlive(pid)).toBe(true);
    const port = topo.config.c!.primary.port;

    await topo.stop();

    const left = all.filter(isAlive);
    expect(left).toEqual([]);
    expect(existsSync(topo.dir)).toBe(false);
    expect(topo.pids()).toEqual([]);
    // the proxy is gone too
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', connectionTimeoutMillis: 2000 });
    client.on('error', () => {});
    await expect(client.connect()).rejects.toBeTruthy();
    await topo.stop(); // idempotent
  });

  it('stop() also cleans up after a killed node', async () => {
    const topo = await startTopology({ clusters: { k: { replicas: 1 } } });
    const primary = topo.cluster('k').primary;
    const children = descendants(primary.pid!);
    await primary.kill();
    const replicaPid = topo.cluster('k').replicas[0]!.pid!;
    await topo.stop();
    expect(isAlive(replicaPid)).toBe(false);
    expect(existsSync(topo.dir)).toBe(false);
    // backends of a killed postmaster notice its death and exit on their own
    // (awaited as a condition; the bound is generous: on a busy machine they exit late)
    await vi.waitFor(() => expect(children.filter(isAlive)).toEqual([]), { timeout: 60_000, interval: 50 });
  });

  it('reapOrphans() cleans up a topology whose owner process died', async () => {
    const topo = await startTopology({ clusters: { o: { replicas: 1 } }, redis: true });
    const file = join(topo.dir, 'pids.json');
    const pids = JSON.parse(readFileSync(file, 'utf8')) as { owner: number };
    // pretend the owner was SIGKILLed: a pid that just exited
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(file, JSON.stringify({ ...pids, owner: dead }));
    const servers = topo.pids();
    expect(servers).toHaveLength(3);
    const removed = reapOrphans(join(topo.dir, '..'));
    expect(removed).toContain(topo.dir);
    expect(existsSync(topo.dir)).toBe(false);
    await vi.waitFor(() => expect(servers.filter(isAlive)).toEqual([]), { timeout: 60_000, interval: 50 });
    await topo.stop();
  });

  it('reapOrphans() leaves topologies of live processes alone', async () => {
    const topo = await startTopology({ clusters: { l: {} } });
    try {
      expect(reapOrphans(join(topo.dir, '..'))).not.toContain(topo.dir);
      expect(existsSync(topo.dir)).toBe(true);
      expect(topo.pids().every(isAlive)).toBe(true);
    } finally {
      await topo.stop();
    }
  });
});
