// Cross-shard reads under real faults, on a topology of our own: shard-0 is a primary with two
// streaming replicas, shard-1 a primary alone. A replica that dies mid-load: every cross-shard
// read still answers in full (the read retry rules, per shard). A shard that cannot answer at all:
// the read fails with its error, or, with allowPartial, returns the other shard's rows, marked.
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRouter, hashShard, type Router } from '../src/index.js';

let topo: Topology;
let router: Router;
const ROWS = 40;

beforeAll(async () => {
  topo = await startTopology({
    clusters: { a: { replicas: 2, schemas: ['app'] }, b: { replicas: 0, schemas: ['app'] } },
  });
  const a = topo.cluster('a');
  const b = topo.cluster('b');
  for (const p of [a.primary, b.primary]) await p.query('CREATE TABLE app.items (id int8 PRIMARY KEY, v int)');
  for (let id = 1; id <= ROWS; id++) {
    const target = hashShard(id, 4, 'int8') % 2 === 0 ? a.primary : b.primary;
    await target.query(`INSERT INTO app.items VALUES (${id}, ${id * 10})`);
  }
  for (const r of a.replicas) await r.waitForCatchUp();
  const strip = <T extends { id?: string }>({ id: _id, ...n }: T) => n;
  const cfgA = topo.config.a!;
  const cfgB = topo.config.b!;
  router = createRouter(
    {
      sharded: {
        schemas: ['app'],
        primary: strip(cfgA.primary),
        consistencyLevel: 'eventual',
        sharding: {
          strategy: 'hash',
          key: 'id',
          keyType: 'int8',
          partitions: 4,
          shards: [
            { primary: strip(cfgA.primary), replicas: (cfgA.replicas ?? []).map(strip) },
            { primary: strip(cfgB.primary) },
          ],
        },
      },
    },
    {
      // Faults here are refusals (a killed node, a refusing proxy): they fail at once, so generous
      // timeouts cost nothing, and a probe slowed by a loaded machine does not mark a healthy node down.
      monitor: { healthCheckInterval: 200, healthCheckTimeout: 10_000, maxFailuresBeforeMarkDown: 2 },
      connectionPool: { max: 4, connectionTimeoutMillis: 10_000, queryTimeout: 60_000 },
    },
  );
  await router.start();
});

afterAll(async () => {
  await router?.close();
  await topo?.stop();
});

const SQL = 'SELECT count(*)::int AS n, sum(v) AS s FROM items';

async function until(cond: () => boolean, what: string, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const FULL = { n: ROWS, s: String((ROWS * (ROWS + 1) * 10) / 2) };

describe('cross-shard reads under faults', () => {
  it('a replica killed under concurrent cross-shard reads: every read answers in full', async () => {
    const replica = topo.cluster('a').replicas[0]!;
    let stop = false;
    const failures: unknown[] = [];
    const results: Array<{ n: number; s: string }> = [];
    const loop = async () => {
      while (!stop) {
        try {
          const r = await router.query<{ n: number; s: string }>(SQL, [], { schema: 'app' });
          results.push(r.rows[0]!);
        } catch (err) {
          failures.push(err);
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    // Conditions, not durations (a loaded machine may answer a read in seconds): reads run before the
    // kill, and reads issued after it have answered.
    await until(() => results.length + failures.length >= 4, 'reads before the kill');
    await replica.kill();
    const afterKill = results.length + failures.length;
    await until(() => results.length + failures.length >= afterKill + 8, 'reads after the kill');
    stop = true;
    await Promise.all(loops);
    expect(failures).toEqual([]);
    expect(results.length).toBeGreaterThan(4);
    for (const r of results) expect(r).toEqual(FULL);
    await replica.start();
  });

  it('a shard that cannot answer fails the read; allowPartial returns the rest, marked', async () => {
    const b = topo.cluster('b').primary;
    b.proxy.refuse();
    try {
      const err = await router.query(SQL, [], { schema: 'app' }).catch((e) => e);
      expect(err.code).toBe('CONNECTION_FAILED');
      const partial = await router.query<{ n: number }>('SELECT id FROM items ORDER BY id', [], {
        schema: 'app',
        allowPartial: true,
      });
      expect(partial.route).toMatchObject({ partial: true, failedShards: ['shard-1'], shardIds: ['shard-0'] });
      const expected = Array.from({ length: ROWS }, (_, i) => i + 1).filter((id) => hashShard(id, 4, 'int8') % 2 === 0);
      expect(partial.rows.map((r) => Number((r as unknown as { id: string }).id))).toEqual(expected);
    } finally {
      b.proxy.restore();
    }
    // back: full answers again
    const end = Date.now() + 120_000;
    for (;;) {
      const r = await router.query<{ n: number; s: string }>(SQL, [], { schema: 'app' }).catch(() => undefined);
      if (r) {
        expect(r.rows[0]).toEqual(FULL);
        break;
      }
      if (Date.now() > end) throw new Error('shard-1 did not come back');
      await new Promise((res) => setTimeout(res, 100));
    }
  });
});
