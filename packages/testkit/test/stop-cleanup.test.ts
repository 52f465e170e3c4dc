import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { startTopology } from '../src/index.js';
import { descendants, isAlive } from './helpers.js';

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
    for (let i = 0; i < 100 && children.some(isAlive); i++) await new Promise((r) => setTimeout(r, 50));
    expect(children.filter(isAlive)).toEqual([]);
  });
});
