// The partition map on real servers: three shard servers of our own (two with a streaming replica),
// the map stored on the first, ownership guards on each, and the routing side of a cutover.
// The tests run in order; each leaves the map as the next one expects (said at the top of each).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type ClusterConfiguration, isPgmError, type NodeConfig } from '@pg-multiverse/core';
import { startTopology, type Topology, uniqueName } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRouter,
  hashShard,
  NOT_OWNER_SQLSTATE,
  type PartitionMapChangedEvent,
  type PartitionsReleasedEvent,
  type Router,
  type RouterWarning,
  runWithStatementContext,
} from '../src/index.js';

const PARTITIONS = 4;
const SEED = '8816678312871386365';
let topo: Topology;
const schema = uniqueName('pm');
const routers: Router[] = [];

/** A node of our topology as a shard's node config (no id: the router names shard nodes). */
function node(cluster: string, which: 'primary' | number): NodeConfig {
  const n = (which === 'primary'
    ? topo.config[cluster]!.primary
    : topo.config[cluster]!.replicas![which]!) as unknown as {
    id?: string;
  } & Record<string, unknown>;
  const { id: _id, ...conn } = n;
  return conn as NodeConfig;
}

/** Cluster config: shard-0 (s0 + replica), shard-1 (s1 + replica), shard-2 (s2) with the given partitions. */
function config(cid: string, parts?: [number[], number[], number[]], extra: Record<string, unknown> = {}) {
  const shards = [
    { id: 'shard-0', primary: node('s0', 'primary'), replicas: [node('s0', 0)] },
    { id: 'shard-1', primary: node('s1', 'primary'), replicas: [node('s1', 0)] },
    { id: 'shard-2', primary: node('s2', 'primary') },
  ].map((s, i) => (parts ? { ...s, partitions: parts[i]! } : s));
  return {
    [cid]: {
      schemas: [schema],
      primary: node('s0', 'primary'),
      readPreference: 'replica',
      sharding: { strategy: 'hash', key: 'user_id', partitions: PARTITIONS, keyType: 'int8', shards, ...extra },
    },
  } as ClusterConfiguration;
}

function router(cfg: ClusterConfiguration, seen?: unknown[]): Router {
  const r = createRouter(cfg, { monitor: { healthCheckInterval: 500 } });
  if (seen) {
    r.on('warning', (w) => seen.push({ event: 'warning', ...w }));
    r.on('partitionMapChanged', (e) => seen.push({ event: 'partitionMapChanged', ...e }));
    r.on('partitionsReleased', (e) => seen.push({ event: 'partitionsReleased', ...e }));
  }
  routers.push(r);
  return r;
}

/** Keys of partition `p`, from `from` on. */
function keysOf(p: number, n: number, from = 1): number[] {
  const out: number[] = [];
  for (let k = from; out.length < n; k++) if (hashShard(k, PARTITIONS, 'int8') === p) out.push(k);
  return out;
}

const server = (s: 's0' | 's1' | 's2') => topo.cluster(s).primary;
const portOf = (s: 's0' | 's1' | 's2') => server(s).serverPort;

async function rowsOn(s: 's0' | 's1' | 's2', where = 'true'): Promise<Array<{ user_id: string; v: number }>> {
  return (await server(s).query(`SELECT user_id, v FROM ${schema}.items WHERE ${where} ORDER BY v`)).rows as Array<{
    user_id: string;
    v: number;
  }>;
}

/** What a mover does between fence and commit: copy the partition's rows to the target (its guard set aside). */
async function copyPartition(from: 's0' | 's1' | 's2', to: 's0' | 's1' | 's2', p: number): Promise<number> {
  const rows = (
    await server(from).query(
      `SELECT user_id, v FROM ${schema}.items WHERE pgm_sharding.partition_of(hashint8extended(user_id, ${SEED}), ${PARTITIONS}) = ${p}`,
    )
  ).rows as Array<{ user_id: string; v: number }>;
  if (rows.length > 0) {
    const values = rows.map((r) => `(${r.user_id}, ${r.v})`).join(', ');
    await server(to).query(
      `BEGIN; SET LOCAL pgm.partition_guard = 'off'; INSERT INTO ${schema}.items (user_id, v) VALUES ${values}; COMMIT`,
    );
  }
  return rows.length;
}

async function waitFor(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let seq = 0;
const insert = (r: Router, key: number, o: Record<string, unknown> = {}) =>
  r.query<{ port: number }>(
    'INSERT INTO items (user_id, v) VALUES ($1, $2) RETURNING inet_server_port() AS port',
    [key, ++seq],
    { schema, shardKey: key, ...o },
  );

beforeAll(async () => {
  topo = await startTopology({ clusters: { s0: { replicas: 1 }, s1: { replicas: 1 }, s2: {} } });
  for (const s of ['s0', 's1', 's2'] as const) {
    await server(s).query(
      `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.items (user_id int8 NOT NULL, v int NOT NULL)`,
    );
  }
});

afterAll(async () => {
  await Promise.allSettled(routers.map((r) => r.close()));
  await topo?.stop();
});

describe('partition map: configuration', () => {
  it('lists partitions per shard; each partition owned exactly once, with clear errors', () => {
    const bad = (parts: unknown) => {
      try {
        createRouter(config('c', parts as [number[], number[], number[]]));
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(bad([[0, 1], [2], [3]])).toBe('accepted');
    expect(bad([[0, 1], [1, 2], [3]])).toMatch(/partition 1 is listed by shard "shard-0" and shard "shard-1"/);
    expect(bad([[0], [2], [3]])).toMatch(/partition 1 is held by no shard/);
    expect(bad([[0, 1], [2, 9], [3]])).toMatch(/9 is not a partition: expected an integer in \[0, 4\)/);
    const mixed = config('c');
    (mixed.c!.sharding!.shards![0] as { partitions?: number[] }).partitions = [0, 1, 2, 3];
    expect(() => createRouter(mixed)).toThrow(/either every shard lists its partitions or none does/);
    expect(() => createRouter(config('c', undefined, { partitionMap: { coordinator: 'nope' } }))).toThrow(
      /coordinator: names no cluster of this configuration: "nope"/,
    );
    expect(() => createRouter(config('c', undefined, { partitionMap: { schema: 'Bad-Schema' } }))).toThrow(
      /partitionMap.schema: must be a lower-case identifier/,
    );
    // Default placement: p % shards.length, as before maps existed.
    const r = createRouter(config('c'));
    expect(r.partitionMap('c').owners).toEqual(['shard-0', 'shard-1', 'shard-2', 'shard-0']);
    expect(r.partitionMap('c').fromConfig).toBe(true);
  });
});

describe('partition map: stored, versioned, followed', () => {
  const cid = uniqueName('pmc');
  let a: Router;
  const seenA: Array<Record<string, unknown>> = [];

  it('start() stores the configuration as version 1 on the first shard; every shard owns what it names', async () => {
    a = router(config(cid, [[0, 1], [2, 3], []]), seenA);
    await a.start();
    const stored = await server('s0').query(
      'SELECT version, partitions, owners FROM pgm_sharding.partition_maps WHERE cluster_id = $1',
      [cid],
    );
    expect(stored.rows).toEqual([
      { version: '1', partitions: PARTITIONS, owners: ['shard-0', 'shard-0', 'shard-1', 'shard-1'] },
    ]);
    const owned = async (s: 's0' | 's1' | 's2') =>
      (
        await server(s).query('SELECT partition FROM pgm_sharding.owned_partitions WHERE cluster_id = $1 ORDER BY 1', [
          cid,
        ])
      ).rows.map((r) => (r as { partition: number }).partition);
    expect(await owned('s0')).toEqual([0, 1]);
    expect(await owned('s1')).toEqual([2, 3]);
    expect(await owned('s2')).toEqual([]);
    expect(a.partitionMap(cid)).toMatchObject({ version: 1, fromConfig: false });
    for (const k of [...keysOf(0, 2), ...keysOf(3, 2)]) {
      const w = await insert(a, k);
      expect(w.route.shardId).toBe(hashShard(k, PARTITIONS, 'int8') < 2 ? 'shard-0' : 'shard-1');
      expect(w.rows[0]!.port).toBe(portOf(hashShard(k, PARTITIONS, 'int8') < 2 ? 's0' : 's1'));
    }
    expect(seenA.filter((e) => e.event === 'warning')).toEqual([]);
  });

  it('the server computes the same partitions as hashShard (the guard and fan-out filters rely on it)', async () => {
    const keys = Array.from({ length: 300 }, (_, i) => i * 7919 - 1000);
    const r = await server('s1').query(
      `SELECT k, pgm_sharding.partition_of(hashint8extended(k, ${SEED}), 7) AS p FROM unnest($1::int8[]) AS k`,
      [keys],
    );
    for (const row of r.rows as Array<{ k: string; p: number }>) {
      expect(row.p).toBe(hashShard(Number(row.k), 7, 'int8'));
    }
  });

  it('an instance configured differently routes by the stored map and says so with a warning event', async () => {
    const seen: Array<Record<string, unknown>> = [];
    const b = router(config(cid, [[0], [1, 2, 3], []]), seen);
    await b.start();
    const warnings = seen.filter((e) => e.event === 'warning') as unknown as RouterWarning[];
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ code: 'PARTITION_MAP_DIFFERS', clusterId: cid, version: 1, partitions: [1] });
    expect(warnings[0]!.message).toMatch(/routing by the stored map/);
    const k = keysOf(1, 1)[0]!;
    expect(b.shardFor(cid, k)).toEqual({ partition: 1, shardId: 'shard-0' });
    expect((await insert(b, k)).rows[0]!.port).toBe(portOf('s0'));
  });

  it('a stored map that names a shard the configuration lacks fails start() with PARTITION_MAP_INVALID', async () => {
    const cfg = config(cid);
    cfg[cid]!.sharding!.shards = cfg[cid]!.sharding!.shards!.slice(0, 1).map((s) => ({
      ...s,
      partitions: [0, 1, 2, 3],
    }));
    const c = router(cfg);
    const err = await c.start().catch((e) => e);
    expect(isPgmError(err, 'PARTITION_MAP_INVALID')).toBe(true);
    expect(err.message).toMatch(/shard "shard-1" \(partitions 2, 3\) is not listed in the configuration/);
    const other = config(cid);
    other[cid]!.sharding!.partitions = 8;
    const d = router(other);
    const err8 = await d.start().catch((e) => e);
    expect(isPgmError(err8, 'PARTITION_MAP_INVALID')).toBe(true);
    expect(err8.message).toMatch(/it has 4 partitions and the configuration 8/);
  });

  it('cutover: writes wait, the fence refuses other instances, commit moves the partition and releases them', async () => {
    // Map in force: version 1, p0,p1 -> shard-0, p2,p3 -> shard-1.
    const b = router(config(cid, [[0, 1], [2, 3], []]));
    const seenB: Array<Record<string, unknown>> = [];
    b.on('partitionMapChanged', (e) => seenB.push({ ...e }));
    const refusedB: string[] = [];
    b.on('queryExecuted', (e) => {
      if (e.errorCode) refusedB.push(`${e.shardId}:${e.errorCode}`);
    });
    await b.start();
    const [k1, k2, k3] = keysOf(1, 3, 1000);
    await insert(a, k1!); // before the hold: stays on shard-0, must be copied
    const hold = await a.holdPartitions({ clusterId: cid, partitions: [1], timeoutMs: 60_000 });
    expect(hold.state).toBe('holding');
    const heldWrite = insert(a, k2!);
    await waitFor(() => hold.queued === 1, 'the write to wait');
    const positions = await hold.fence();
    expect(Object.keys(positions)).toEqual(['shard-0']);
    expect(positions['shard-0']).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    // Another instance still routes p1 to shard-0: refused there, it waits for the new map.
    const otherWrite = insert(b, k3!);
    await waitFor(() => refusedB.includes(`shard-0:${NOT_OWNER_SQLSTATE}`), 'shard-0 to refuse the other instance');
    // Nothing else may write p1 on shard-0 now, not even by hand.
    const direct = await server('s0')
      .query(`INSERT INTO ${schema}.items VALUES (${k3}, -1)`)
      .catch((e) => e);
    expect(direct.code).toBe(NOT_OWNER_SQLSTATE);
    expect(await copyPartition('s0', 's2', 1)).toBeGreaterThan(0);
    const map = await hold.commit({ 1: 'shard-2' });
    expect(map.version).toBe(2);
    expect(map.owners).toEqual(['shard-0', 'shard-2', 'shard-1', 'shard-1']);
    expect(map.moved[1]).toMatchObject({ from: 'shard-0', to: 'shard-2', version: 2 });
    expect(map.strays).toEqual({ 'shard-0': [1] });
    expect((await heldWrite).rows[0]!.port).toBe(portOf('s2'));
    expect((await otherWrite).rows[0]!.port).toBe(portOf('s2'));
    expect(b.partitionMap(cid).version).toBe(2);
    expect(seenB.some((e) => e.version === 2 && (e.source === 'notify' || e.source === 'not-owner'))).toBe(true);
    const released = seenA.filter((e) => e.event === 'partitionsReleased') as unknown as PartitionsReleasedEvent[];
    expect(released.at(-1)).toMatchObject({ clusterId: cid, partitions: [1], outcome: 'committed', queued: 1 });
    // Every row of p1 is on shard-2 and, after the fence, none was added on shard-0.
    const p1 = `pgm_sharding.partition_of(hashint8extended(user_id, ${SEED}), ${PARTITIONS}) = 1`;
    expect((await rowsOn('s2', p1)).map((r) => Number(r.user_id)).sort()).toEqual(
      [...new Set([k1!, k2!, k3!, ...(await rowsOn('s0', p1)).map((r) => Number(r.user_id))])].sort(),
    );
    expect((await rowsOn('s0', `${p1} AND user_id IN (${k2}, ${k3})`)).length).toBe(0);
  });

  it('an instance that did not write learns the new version by NOTIFY', async () => {
    // Map in force: version 2 (p1 on shard-2). A third router, idle, follows the next change.
    const c = router(config(cid, [[0, 1], [2, 3], []]));
    const seenC: PartitionMapChangedEvent[] = [];
    c.on('partitionMapChanged', (e) => seenC.push(e));
    await c.start();
    expect(c.partitionMap(cid).version).toBe(2);
    const m = await a.updatePartitionStrays(cid, 'shard-0', { remove: [1] });
    expect(m.version).toBe(3);
    expect(m.strays).toEqual({});
    await waitFor(() => seenC.some((e) => e.version === 3 && e.source === 'notify'), 'NOTIFY to reach the idle router');
    expect(c.partitionMap(cid).version).toBe(3);
  });

  it('an instance that heard no announcement learns the map from a shard refusing its write', async () => {
    // Map in force: version 3 (p1 on shard-2). This router is not started: no LISTEN, the configuration's
    // map (p1 on shard-0) in force.
    const d = router(config(cid, [[0, 1], [2, 3], []]));
    const seenD: PartitionMapChangedEvent[] = [];
    d.on('partitionMapChanged', (e) => seenD.push(e));
    const refused: string[] = [];
    d.on('queryExecuted', (e) => {
      if (e.errorCode) refused.push(`${e.shardId}:${e.errorCode}`);
    });
    expect(d.partitionMap(cid)).toMatchObject({
      fromConfig: true,
      owners: ['shard-0', 'shard-0', 'shard-1', 'shard-1'],
    });
    const w = await insert(d, keysOf(1, 1, 60_000)[0]!);
    expect(refused).toEqual([`shard-0:${NOT_OWNER_SQLSTATE}`]);
    expect(w.rows[0]!.port).toBe(portOf('s2'));
    expect(w.route.shardId).toBe('shard-2');
    expect(seenD).toEqual([
      { clusterId: cid, version: 3, previousVersion: undefined, moved: [1], source: 'not-owner' },
    ]);
    // A transaction (a lent session, not routed statement by statement) is refused and rolled back, and
    // the refusal makes the router read the map, so the application's retry goes to the new owner.
    const e = router(config(cid, [[0, 1], [2, 3], []]));
    const key = keysOf(1, 1, 61_000)[0]!;
    const tx = (r: Router) =>
      runWithStatementContext({}, () =>
        r.primary(cid, key).withConnection(async (c) => {
          await c.query('BEGIN');
          try {
            const out = await c.query<{ port: number }>(
              `INSERT INTO ${schema}.items VALUES ($1, -4) RETURNING inet_server_port() AS port`,
              [key],
            );
            await c.query('COMMIT');
            return out.rows[0]!.port;
          } catch (err) {
            await c.query('ROLLBACK');
            throw err;
          }
        }),
      );
    const refusedTx = await tx(e).catch((err) => err);
    expect(refusedTx.code).toBe(NOT_OWNER_SQLSTATE);
    await waitFor(() => e.partitionMap(cid).version === 3, 'the refusal to make the router read the map');
    expect(await tx(e)).toBe(portOf('s2'));
  });

  it('a read visiting every shard can filter out rows a shard holds without owning them', async () => {
    // Map in force: version 3. Mark p1's rows left on shard-0 as strays again.
    await a.updatePartitionStrays(cid, 'shard-0', { add: [1] });
    const f = a.partitionFilter(cid, 'shard-0');
    expect(f?.partitions).toEqual([0]);
    expect(a.partitionFilter(cid, 'shard-1')).toBeUndefined();
    const all = await rowsOn('s0');
    const kept = await rowsOn('s0', f!.sql);
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.every((r) => hashShard(Number(r.user_id), PARTITIONS, 'int8') === 0)).toBe(true);
    expect(all.length - kept.length).toBe(
      all.filter((r) => hashShard(Number(r.user_id), PARTITIONS, 'int8') === 1).length,
    );
  });

  it('a bound on held statements: one too many aborts the move, never the statements', async () => {
    // Map in force: version 4 (p1 on shard-2, strays shard-0:[1]).
    const hold = await a.holdPartitions({ clusterId: cid, partitions: [0], maxQueued: 2, timeoutMs: 60_000 });
    await hold.fence();
    const keys = keysOf(0, 3, 5000);
    const writes = keys.map((k) => insert(a, k));
    await waitFor(() => hold.signal.aborted, 'the hold to give up');
    expect(isPgmError(hold.signal.reason, 'MOVE_ABORTED')).toBe(true);
    expect((hold.signal.reason as Error).message).toMatch(/more than maxQueued \(2\) statements waited/);
    const done = await Promise.all(writes);
    expect(done.map((w) => w.rows[0]!.port)).toEqual([portOf('s0'), portOf('s0'), portOf('s0')]);
    const err = await hold.commit({ 0: 'shard-2' }).catch((e) => e);
    expect(isPgmError(err, 'MOVE_ABORTED')).toBe(true);
    expect(a.partitionMap(cid).version).toBe(4);
    expect(a.partitionMap(cid).owners[0]).toBe('shard-0');
  });

  it('a timeout aborts the move: the fence is lifted and the held writes run on the old owner', async () => {
    const hold = await a.holdPartitions({ clusterId: cid, partitions: [0], timeoutMs: 400 });
    await hold.fence();
    const w = insert(a, keysOf(0, 1, 9000)[0]!);
    await waitFor(() => hold.signal.aborted, 'the timeout');
    expect((hold.signal.reason as Error).message).toMatch(/longer than timeoutMs \(400 ms\)/);
    expect((await w).rows[0]!.port).toBe(portOf('s0'));
    expect(hold.state).toBe('aborted');
    const released = seenA.filter((e) => e.event === 'partitionsReleased') as unknown as PartitionsReleasedEvent[];
    expect(released.at(-1)).toMatchObject({ partitions: [0], outcome: 'aborted' });
    expect(released.at(-1)!.heldMs).toBeGreaterThanOrEqual(400);
    // The fence is gone: shard-0 takes p0 writes from anyone again.
    await server('s0').query(`INSERT INTO ${schema}.items VALUES (${keysOf(0, 1, 9100)[0]}, -2)`);
  });

  it('commit compares and sets the version: a change committed first wins, the loser lifts its fence', async () => {
    // Map in force: version 4. Two instances each hold a different partition.
    const b = router(config(cid, [[0, 1], [2, 3], []]));
    await b.start();
    const ha = await a.holdPartitions({ clusterId: cid, partitions: [3], timeoutMs: 60_000 });
    const hb = await b.holdPartitions({ clusterId: cid, partitions: [2], timeoutMs: 60_000 });
    await ha.fence();
    await hb.fence();
    await copyPartition('s1', 's2', 3);
    expect((await ha.commit({ 3: 'shard-2' })).version).toBe(5);
    const err = await hb.commit({ 2: 'shard-2' }).catch((e) => e);
    expect(isPgmError(err, 'PARTITION_MAP_CONFLICT')).toBe(true);
    expect(err.message).toMatch(/at version 5, not 4/);
    expect(hb.state).toBe('aborted');
    // p2 stays on shard-1, which takes its writes again.
    expect((await insert(b, keysOf(2, 1, 20_000)[0]!)).rows[0]!.port).toBe(portOf('s1'));
  });

  it('a fence left in place fails other writes loudly after rerouteTimeoutMs; release() and syncPartitionOwnership recover', async () => {
    // Map in force: version 5: p0 -> shard-0, p1 -> shard-2, p2 -> shard-1, p3 -> shard-2.
    const cfg = config(cid, [[0, 1], [2, 3], []], { partitionMap: { rerouteTimeoutMs: 300 } });
    const b = router(cfg);
    await b.start();
    const k = keysOf(2, 1, 25_000)[0]!;
    const hold = await a.holdPartitions({ clusterId: cid, partitions: [2], timeoutMs: 60_000 });
    await hold.fence();
    const err = await insert(b, k).catch((e) => e);
    expect(isPgmError(err, 'PARTITION_NOT_OWNED')).toBe(true);
    expect(err.message).toMatch(/Shard shard-1 of cluster .* refused a write to partition 2: it does not own it/);
    expect(err.details).toMatchObject({ partition: 2, shardId: 'shard-1', version: 5 });
    await hold.release();
    expect(hold.state).toBe('released');
    expect((await insert(b, k)).rows[0]!.port).toBe(portOf('s1'));
    // A mover that died after its fence: the stored map decides, syncPartitionOwnership applies it.
    const h2 = await b.holdPartitions({ clusterId: cid, partitions: [2], timeoutMs: 60_000 });
    await h2.fence();
    const refused = await server('s1')
      .query(`INSERT INTO ${schema}.items VALUES (${k}, -3)`)
      .catch((e) => e);
    expect(refused.code).toBe(NOT_OWNER_SQLSTATE);
    expect(await a.syncPartitionOwnership(cid)).toEqual({ 'shard-0': [0], 'shard-1': [2], 'shard-2': [1, 3] });
    await server('s1').query(`INSERT INTO ${schema}.items VALUES (${k}, -3)`);
    await h2.release();
  });

  it("session reads stay read-your-writes across a cutover (the new owner's replica lags)", async () => {
    // Map in force: version 5: p0 -> shard-0, p1 -> shard-2, p2 -> shard-1, p3 -> shard-2. Move p0 to shard-1.
    const k = keysOf(0, 1, 30_000)[0]!;
    const replica = topo.cluster('s1').replicas[0]!;
    await a.runWithSession(async () => {
      await insert(a, k);
      const hold = await a.holdPartitions({ clusterId: cid, partitions: [0], timeoutMs: 60_000 });
      await hold.fence();
      await replica.waitForCatchUp();
      await replica.pauseReplay();
      try {
        await copyPartition('s0', 's1', 0);
        await hold.commit({ 0: 'shard-1' });
        const r = await a.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE user_id = $1', [k], {
          schema,
          shardKey: k,
          consistency: 'session',
        });
        expect(r.route.shardId).toBe('shard-1');
        expect(r.rows[0]!.n).toBe(1);
        expect(r.route.nodeId).toBe('shard-1/primary');
      } finally {
        await replica.resumeReplay();
      }
    });
  });

  it('two processes: the other one never writes to the old owner after the commit', async () => {
    // Map in force: version 6: p0 -> shard-1. A child process writes p0 keys in a loop; we move p0 to shard-2.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('./fixtures/partition-writer.ts', import.meta.url))],
      {
        env: {
          ...process.env,
          PGM_CONFIG: JSON.stringify(config(cid, [[0, 1], [2, 3], []])),
          PGM_SCHEMA: schema,
          PGM_KEYS: JSON.stringify(keysOf(0, 50, 40_000)),
        },
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const lines: Array<Record<string, unknown>> = [];
    const reader = createInterface({ input: child.stdout });
    reader.on('line', (l) => lines.push(JSON.parse(l)));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    try {
      await waitFor(() => lines.filter((l) => l.wrote).length >= 5, `the child to write (${stderr})`, 60_000);
      const hold = await a.holdPartitions({ clusterId: cid, partitions: [0], timeoutMs: 60_000 });
      await hold.fence();
      await copyPartition('s1', 's2', 0);
      await hold.commit({ 0: 'shard-2' });
      const after = lines.length;
      await waitFor(
        () => lines.slice(after).filter((l) => l.wrote).length >= 5,
        'the child to write after the move',
        60_000,
      );
      child.stdin.end(); // stop
      expect(await exited).toBe(0);
      expect(lines.filter((l) => l.error)).toEqual([]);
      // Every write the child made after the map version that moved p0 went to shard-2.
      const wrote = lines.filter((l) => l.wrote) as Array<{ port: number; version: number }>;
      // It learnt the version that moved p0 (by NOTIFY, or from shard-1 refusing a write).
      expect(lines.some((l) => l.changed === 7 && (l.source === 'notify' || l.source === 'not-owner'))).toBe(true);
      expect(wrote.filter((l) => l.version >= 7).every((l) => l.port === portOf('s2'))).toBe(true);
      expect(wrote.some((l) => l.version >= 7)).toBe(true);
      // And shard-1 took no p0 write after the fence: its p0 rows are exactly those copied to shard-2 before.
      const p0 = `pgm_sharding.partition_of(hashint8extended(user_id, ${SEED}), ${PARTITIONS}) = 0`;
      const onOld = (await rowsOn('s1', p0)).map((r) => r.v);
      const onNew = new Set((await rowsOn('s2', p0)).map((r) => r.v));
      expect(onOld.length).toBeGreaterThan(0);
      expect(onOld.every((v) => onNew.has(v))).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
