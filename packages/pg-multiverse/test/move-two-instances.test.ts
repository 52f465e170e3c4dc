import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';
import {
  CLUSTER,
  type Harness,
  keysIn,
  leftovers,
  misplacedRows,
  SCHEMA,
  spawnChild,
  startHarness,
  storedMap,
  until,
} from './fixtures/move-harness.js';
import type { LoadResult } from './fixtures/move-load.js';

// Issue 19: two application instances (two processes) write to a partition while a third moves
// it: neither writes to the old owner once the map version that moved it was committed.
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  const pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
  await pgm.initialize(h.config3);
  await pgm.migrate();
  await pgm.close();
});

afterAll(async () => {
  await h?.stop();
});

const idBase = (i: number) => (i + 1) * 10_000_000_000;
/** Rows instance `i` inserted that are on `shard` (asked on the server). */
const rowsOf = async (shard: string, i: number) =>
  (
    await h.admin[shard]!.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${SCHEMA}.orders WHERE id >= $1 AND id < $2`,
      [idBase(i), idBase(i + 1)],
    )
  ).rows[0]!.n;

describe('two application instances routing during a move', () => {
  it('no write reaches the old owner after the commit; every write lands once on the new owner', async () => {
    const partition = 1;
    const keys = keysIn([partition], 16);
    const children = [0, 1].map((i) =>
      spawnChild({
        mode: 'write',
        config: h.config3,
        migrationsDir: h.migrationsDir,
        cluster: CLUSTER,
        keys,
        writers: 4,
        idBase: idBase(i),
      }),
    );
    await Promise.all(children.map((c) => c.ready));
    // Each instance has written to the old owner before the move starts.
    for (const i of [0, 1]) await until(async () => (await rowsOf('shard-1', i)) > 0, `instance ${i}'s first writes`);

    const pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
    await pgm.initialize(h.config3);
    let map: Awaited<ReturnType<typeof storedMap>>;
    try {
      // keepSource: the map is not changed again after the commit (its updated_at is the commit's).
      const report = await pgm.movePartitions({
        cluster: CLUSTER,
        partitions: [partition],
        to: 'shard-2',
        keepSource: true,
      });
      expect(report.moves[0]!.state).toBe('done');
      map = await storedMap(h);
      expect(map.owners[partition]).toBe('shard-2');
      // Each instance writes to the new owner after the move (the copy is done: new rows are theirs).
      for (const i of [0, 1]) {
        const copied = await rowsOf('shard-2', i);
        await until(async () => (await rowsOf('shard-2', i)) > copied, `instance ${i}'s writes to the new owner`);
      }
      for (const c of children) c.send('stop');
      const results = (await Promise.all(children.map((c) => c.exited))).map((e) => {
        expect(e.code, e.stderr).toBe(0);
        return e.result as LoadResult;
      });

      const source = h.serverPort['shard-1']!;
      const target = h.serverPort['shard-2']!;
      for (const r of results) {
        expect(r.errors).toEqual([]);
        expect(r.refused).toBe(0);
        // Writes the old owner accepted all happened before the commit of the map version that moved it.
        const late = r.writes.filter((w) => w.port === source && new Date(w.ts) >= map.updatedAt);
        expect(late).toEqual([]);
        expect(r.writes.some((w) => w.port === source)).toBe(true);
        expect(r.writes.some((w) => w.port === target)).toBe(true);
        expect(r.writes.every((w) => w.port === source || w.port === target)).toBe(true);
      }
      // Every acknowledged insert is on the new owner exactly once.
      const ids = results.flatMap((r) => r.writes.map((w) => w.id));
      const onTarget = await h.admin['shard-2']!.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM ${SCHEMA}.orders WHERE id = ANY ($1::int8[])`,
        [ids],
      );
      expect(onTarget.rows[0]!.n).toBe(ids.length);

      // The rows kept on the source (keepSource) go with cleanupMovedPartitions().
      const cleaned = await pgm.cleanupMovedPartitions({ cluster: CLUSTER });
      expect(cleaned.byShard['shard-1']).toBeGreaterThan(0);
      expect(await misplacedRows(h, (await storedMap(h)).owners)).toEqual({ 'shard-0': 0, 'shard-1': 0, 'shard-2': 0 });
      expect(await leftovers(h)).toEqual([]);
    } finally {
      await pgm.close();
    }
  });
});
