import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';
import { CLUSTER, type Harness, SCHEMA, startHarness } from './fixtures/move-harness.js';

// Issue 16 x 19: between a real move's cutover and its cleanup the old owner still holds the moved
// partition's rows (the map's strays); keyless reads, UPDATE and DELETE through PgMultiverse.query
// see and change exactly what the control copy (one plain table) says.
let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

const INSERT = `INSERT INTO ${SCHEMA}.orders (user_id, id, v) SELECT k, g, (k * 7 + g) % 50 FROM generate_series(1, 120) AS k, generate_series(1, 3) AS g`;

describe('fan-outs during a partition move', () => {
  it('keyless reads and writes between cutover and cleanup match the control table', async () => {
    const first = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
    await first.initialize(h.config2);
    await first.migrate();
    await first.close();
    for (const id of ['shard-0', 'shard-1']) {
      await h.admin[id]!.query(
        `${INSERT} WHERE pgm_sharding.partition_of(hashint8extended(k, 8816678312871386365), 8) % 2 = ${id === 'shard-0' ? 0 : 1}`,
      );
    }
    await h.control.query(INSERT);

    const pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
    await pgm.initialize(h.config3);
    try {
      let committed!: () => void;
      const cutover = new Promise<void>((r) => {
        committed = r;
      });
      pgm.on('moveStateChanged', (m) => {
        if (m.state === 'committed') committed();
      });
      const move = pgm.movePartitions({ cluster: CLUSTER, partitions: [2], to: 'shard-2', cleanupDelayMs: 20_000 });
      move.catch(() => committed());
      await cutover;
      // The window: shard-0 still holds partition 2's rows (the cleanup has not run).
      const left = await h.admin['shard-0']!.query(
        `SELECT count(*)::int AS n FROM ${SCHEMA}.orders WHERE pgm_sharding.partition_of(hashint8extended(user_id, 8816678312871386365), 8) = 2`,
      );
      expect(left.rows[0].n).toBeGreaterThan(0);

      const same = async (sql: string, params: unknown[] = []) => {
        const got = await pgm.query(sql, params, { schema: SCHEMA });
        const want = await h.control.query(sql, params);
        const text = (rows: unknown[]) => JSON.stringify(rows, (_k, v) => (typeof v === 'number' ? String(v) : v));
        expect(text(got.rows), sql).toBe(text(want.rows));
        expect(got.rowCount, sql).toBe(want.rowCount);
      };
      await same(`SELECT count(*) AS n, sum(v) AS s FROM ${SCHEMA}.orders`);
      await same(`SELECT user_id, id, v FROM ${SCHEMA}.orders ORDER BY v DESC, user_id, id LIMIT 7`);
      await same(`SELECT v % 5 AS g, count(*) AS n FROM ${SCHEMA}.orders GROUP BY v % 5 ORDER BY g`);
      await same(`UPDATE ${SCHEMA}.orders SET v = v + 100 WHERE id = 2`);
      await same(`DELETE FROM ${SCHEMA}.orders WHERE v < 10`);
      await same(`SELECT count(*) AS n, sum(v) AS s FROM ${SCHEMA}.orders`);
      const report = await move;
      expect(report.moves.every((m) => m.state === 'done')).toBe(true);
      await same(`SELECT count(*) AS n, sum(v) AS s, min(v) AS lo FROM ${SCHEMA}.orders`);
    } finally {
      await pgm.close();
    }
  });
});
