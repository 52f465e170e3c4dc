import type { QueryExecutedEvent } from '@pg-multiverse/router';
import { uniqueName } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';
import { twoShards } from './fixtures/two-shards.js';

// Cross-shard writes through the facade: a 4-partition cluster over two real servers (partition p
// on shard-(p % 2)). Where each row landed is checked by PostgreSQL itself (satisfies_hash_partition).
const schema = uniqueName('fsw');
const { admin, config, shardOf, keyOn, perShard, ...cluster } = twoShards(inject('pgmTopology'), schema);
let pgm: PgMultiverse;
const events: QueryExecutedEvent[] = [];

const counts = () => cluster.counts('orders');
/** Rows PostgreSQL's hash partitioning would not put on the shard holding them. */
const misplaced = () => cluster.misplaced('orders');

beforeAll(async () => {
  for (const p of admin) await p.query(`CREATE SCHEMA ${schema}`);
  pgm = new PgMultiverse({ enableCache: true });
  await pgm.initialize(config);
  pgm.on('queryExecuted', (e) => events.push(e));
});

afterAll(async () => {
  await pgm?.close();
  await cluster.drop();
});

describe('cross-shard writes', () => {
  it('DDL goes to every shard', async () => {
    await pgm.query(
      'CREATE TABLE orders (id int PRIMARY KEY, user_id int8 NOT NULL, total int NOT NULL CHECK (total >= 0))',
      [],
      { schema },
    );
    await pgm.query('CREATE TABLE pt (user_id int8) PARTITION BY HASH (user_id)', [], { schema });
    await pgm.query('ALTER TABLE orders ADD COLUMN note text', [], { schema });
    const cols = await perShard(
      `SELECT count(*)::int AS n FROM information_schema.columns WHERE table_schema = '${schema}' AND table_name = 'orders'`,
    );
    expect(cols).toEqual([4, 4]);
  });

  describe('with the table', () => {
    beforeEach(async () => {
      await Promise.all(admin.map((p) => p.query(`TRUNCATE ${schema}.orders`)));
      events.length = 0;
    });

    it('a multi-row INSERT with $n parameters is split per shard; RETURNING comes back in VALUES order', async () => {
      const n = 40;
      const values: unknown[] = [];
      const tuples: string[] = [];
      for (let i = 1; i <= n; i++) {
        tuples.push(`($${3 * i - 2}, $${3 * i - 1}, $${3 * i}, 'x')`);
        values.push(i, i * 13, i);
      }
      const writesBefore = pgm.getMetrics().clusters.orders_cluster!.queries.writes;
      const crossBefore = pgm.getMetrics().clusters.orders_cluster!.queries.crossShard;
      const r = await pgm.query<{ id: number; user_id: string }>(
        `INSERT INTO orders (id, user_id, total, note) VALUES ${tuples.join(', ')} RETURNING id, user_id`,
        values,
        { schema },
      );
      expect(r.rowCount).toBe(n);
      expect(r.rows.map((x) => x.id)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      const expected: [number, number] = [0, 0];
      for (let i = 1; i <= n; i++) expected[shardOf(i * 13)]++;
      expect(expected[0] > 0 && expected[1] > 0).toBe(true);
      expect(await counts()).toEqual(expected);
      expect(await misplaced()).toEqual([0, 0]);
      // one event for the whole statement, naming both shards
      const e = events.filter((x) => x.sql.startsWith('INSERT INTO orders (id, user_id'));
      expect(e).toHaveLength(1);
      expect(e[0]).toMatchObject({ kind: 'write', ok: true, reason: 'cross-shard', shardIds: ['shard-0', 'shard-1'] });
      expect(e[0]!.nodeIds).toEqual(['shard-0/primary', 'shard-1/primary']);
      // counted once, as one write of the cluster
      expect(pgm.getMetrics().clusters.orders_cluster!.queries.writes).toBe(writesBefore + 1);
      expect(pgm.getMetrics().clusters.orders_cluster!.queries.crossShard).toBe(crossBefore + 1);
    });

    it('simple protocol (literals), casts, ON CONFLICT and a parameter shared by rows', async () => {
      const [k0, k1] = [keyOn(0), keyOn(1)];
      const r = await pgm
        .query(
          `INSERT INTO orders (id, user_id, total) VALUES (1, ${k0}, 1), (2, '${k1}'::int8, 2), (3, -${k0}::int8 * -1, 3)`,
          [],
          { schema },
        )
        .catch((e) => e);
      // the third row computes its key: refused before anything runs
      expect(r.code).toBe('CROSS_SHARD_UNSUPPORTED');
      expect(r.message).toMatch(/row 3 .*expression/);
      expect(await counts()).toEqual([0, 0]);
      await pgm.query(`INSERT INTO orders (id, user_id, total) VALUES (1, ${k0}, 1), (2, '${k1}'::int8, 2)`, [], {
        schema,
      });
      expect(await counts()).toEqual([1, 1]);
      const again = await pgm.query<{ id: number }>(
        'INSERT INTO orders (id, user_id, total) VALUES (1, $1, $3), (2, $2, $3), (3, $2, $3) ON CONFLICT (id) DO NOTHING RETURNING id',
        [k0, k1, 7],
        { schema },
      );
      expect(again.rows).toEqual([{ id: 3 }]);
      expect(await counts()).toEqual([1, 2]);
      // an upsert writing back every column, the key included (ORMs do): the row stays on its shard
      const up = await pgm.query<{ id: number; total: number }>(
        'INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 50), ($3, $4, 60) ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, total = EXCLUDED.total RETURNING id, total',
        [1, k0, 2, k1],
        { schema },
      );
      expect(up.rows).toEqual([
        { id: 1, total: 50 },
        { id: 2, total: 60 },
      ]);
      expect(await counts()).toEqual([1, 2]);
      expect(await misplaced()).toEqual([0, 0]);
    });

    it('UPDATE and DELETE without a key run on every shard; RETURNING rows merged', async () => {
      const rows = Array.from({ length: 20 }, (_, i) => `(${i + 1}, ${i * 7 + 1}, ${i})`).join(', ');
      await pgm.query(`INSERT INTO orders (id, user_id, total) VALUES ${rows}`, [], { schema });
      const before = await counts();
      const up = await pgm.query<{ id: number }>('UPDATE orders SET total = total + $1 RETURNING id', [100], {
        schema,
      });
      expect(up.rowCount).toBe(20);
      expect(up.rows.map((x) => x.id).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
      expect(await perShard(`SELECT count(*)::int AS n FROM ${schema}.orders WHERE total >= 100`)).toEqual(before);
      const del = await pgm.query('DELETE FROM orders WHERE total >= $1', [110], { schema });
      expect(del.rowCount).toBe(10);
      expect((await counts()).reduce((a, b) => a + b)).toBe(10);
      // with the key in WHERE: one shard only
      const k = 1 + 7 * 2;
      const one = await pgm.query('UPDATE orders SET total = 0 WHERE user_id = $1', [k], { schema });
      expect(one.rowCount).toBe(1);
      expect((one as unknown as { route: { shardId: string } }).route.shardId).toBe(`shard-${shardOf(k)}`);
    });

    it('a failure on one shard leaves no shard changed (split INSERT, UPDATE without a key)', async () => {
      const [k0, k1] = [keyOn(0), keyOn(1)];
      // the row for shard-1 violates the CHECK; shard-0's rows were fine
      const bad = await pgm
        .query(
          'INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 1), ($3, $4, -1), ($5, $2, 2)',
          [1, k0, 2, k1, 3],
          {
            schema,
          },
        )
        .catch((e) => e);
      expect(bad.message).toMatch(/check constraint/);
      expect(await counts()).toEqual([0, 0]);
      // a NULL key is partition 0 (as PostgreSQL places it), where NOT NULL refuses it: nothing anywhere
      const nullKey = await pgm
        .query('INSERT INTO orders (id, user_id, total) VALUES (1, NULL, 1), (2, $1, 1)', [k1], { schema })
        .catch((e) => e);
      expect(nullKey.message).toMatch(/null value in column "user_id"/);
      expect(await counts()).toEqual([0, 0]);

      await pgm.query('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 10), ($3, $4, 1)', [1, k0, 2, k1], {
        schema,
      });
      const badUpdate = await pgm.query('UPDATE orders SET total = total - 5', [], { schema }).catch((e) => e);
      expect(badUpdate.message).toMatch(/check constraint/);
      expect(await perShard(`SELECT coalesce(sum(total), 0)::int AS n FROM ${schema}.orders`)).toEqual([10, 1]);
    });

    it('{ atomic: false } commits shard by shard and says which ones committed when one fails', async () => {
      const [k0, k1] = [keyOn(0), keyOn(1)];
      await pgm.query('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 10), ($3, $4, 1)', [1, k0, 2, k1], {
        schema,
      });
      const err = await pgm.query('UPDATE orders SET total = total - 5', [], { schema, atomic: false }).catch((e) => e);
      expect(err.message).toMatch(/atomic: false.*failed on orders_cluster\[shard-1\]; it committed on shard-0/);
      expect(err.details).toMatchObject({ committedShards: ['shard-0'], failedShards: ['shard-1'] });
      expect(await perShard(`SELECT sum(total)::int AS n FROM ${schema}.orders`)).toEqual([5, 1]);
      const ok = await pgm.query('UPDATE orders SET total = total + 1', [], { schema, atomic: false });
      expect(ok.rowCount).toBe(2);
    });

    it('with enableTransactions off, a write on several shards needs { atomic: false }; copyFrom is refused', async () => {
      const off = new PgMultiverse({ enableTransactions: false });
      await off.initialize(config);
      try {
        const sql = 'INSERT INTO orders (id, user_id, total) VALUES (1, $1, 1), (2, $2, 1)';
        const err = await off.query(sql, [keyOn(0), keyOn(1)], { schema }).catch((e) => e);
        expect(err.code).toBe('FEATURE_DISABLED');
        expect(err.message).toMatch(/2 shards of cluster "orders_cluster".*atomic: false.*enableTransactions: true/);
        expect(await counts()).toEqual([0, 0]);
        await off.query(sql, [keyOn(0), keyOn(1)], { schema, atomic: false });
        expect(await counts()).toEqual([1, 1]);
        const copy = await off
          .copyFrom('orders', ['id', 'user_id', 'total'], [Buffer.from('3\t1\t1\n')], { schema })
          .catch((e) => e);
        expect(copy.code).toBe('FEATURE_DISABLED');
      } finally {
        await off.close();
      }
    });

    it('refuses what it cannot split, and any change of the shard key', async () => {
      const cases: Array<[string, unknown[], string, RegExp]> = [
        ['UPDATE orders SET user_id = $1 WHERE id = 1', [5], 'SHARD_KEY_UPDATE', /assigns "user_id".*delete the rows/],
        ['UPDATE orders SET user_id = 5 WHERE user_id = 3', [], 'SHARD_KEY_UPDATE', /another shard/],
        ['INSERT INTO orders VALUES (1, 2, 3), (2, 3, 4)', [], 'CROSS_SHARD_UNSUPPORTED', /without a column list/],
        ['INSERT INTO orders (id, total) VALUES (1, 2), (2, 3)', [], 'SHARD_KEY_REQUIRED', /does not name/],
        ['INSERT INTO orders (id, user_id, total) SELECT 1, 2, 3', [], 'CROSS_SHARD_UNSUPPORTED', /INSERT ... SELECT/],
        [
          'INSERT INTO orders (id, user_id, total) VALUES (1, DEFAULT, 1), (2, 5, 1)',
          [],
          'CROSS_SHARD_UNSUPPORTED',
          /row 1 .*DEFAULT/,
        ],
        [
          'INSERT INTO orders (id, user_id, total) VALUES (1, $1, 1), (2, $2, 1)',
          [5],
          'INVALID_ARGUMENT',
          /row 2 .*not given/,
        ],
        ['UPDATE orders SET total = 1; DELETE FROM orders', [], 'CROSS_SHARD_UNSUPPORTED', /several statements/],
        ["SELECT pg_advisory_lock(1), nextval('nope')", [], 'CROSS_SHARD_UNSUPPORTED', /names no table.*shardKey/],
        ['CALL nope()', [], 'CROSS_SHARD_UNSUPPORTED', /a CALL statement cannot be run across shards/],
        [
          'WITH d AS (DELETE FROM orders RETURNING *) INSERT INTO orders SELECT * FROM d',
          [],
          'CROSS_SHARD_UNSUPPORTED',
          /INSERT/,
        ],
      ];
      for (const [sql, params, code, message] of cases) {
        const err = await pgm.query(sql, params, { schema }).catch((e) => e);
        expect(err.code, sql).toBe(code);
        expect(err.message, sql).toMatch(message);
      }
      // an explicit shardKey does not make a key change safe
      const err = await pgm
        .query('UPDATE orders SET user_id = 9 WHERE user_id = 3', [], { schema, shardKey: 3 })
        .catch((e) => e);
      expect(err.code).toBe('SHARD_KEY_UPDATE');
      expect(await counts()).toEqual([0, 0]);
    });

    it('a cross-shard write invalidates the cached reads of the tables it wrote, on every shard', async () => {
      const [k0, k1] = [keyOn(0), keyOn(1)];
      const read = (k: number) =>
        pgm.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [k], {
          schema,
          cache: true,
          role: 'primary',
        });
      expect([(await read(k0)).rows[0]!.n, (await read(k1)).rows[0]!.n]).toEqual([0, 0]);
      const hits = pgm.getMetrics().cache!.hits;
      expect([(await read(k0)).rows[0]!.n, (await read(k1)).rows[0]!.n]).toEqual([0, 0]);
      expect(pgm.getMetrics().cache!.hits).toBe(hits + 2); // both from the cache
      await pgm.query('INSERT INTO orders (id, user_id, total) VALUES (1, $1, 1), (2, $2, 1)', [k0, k1], { schema });
      expect([(await read(k0)).rows[0]!.n, (await read(k1)).rows[0]!.n]).toEqual([1, 1]);
      // a cross-shard read, cached as one entry, is forgotten after a cross-shard write too
      const all = () =>
        pgm.query<{ n: number }>('SELECT count(*)::int AS n FROM orders', [], { schema, cache: true, role: 'primary' });
      expect((await all()).rows[0]!.n).toBe(2);
      const hits2 = pgm.getMetrics().cache!.hits;
      expect((await all()).rows[0]!.n).toBe(2);
      expect(pgm.getMetrics().cache!.hits).toBe(hits2 + 1);
      await pgm.query('INSERT INTO orders (id, user_id, total) VALUES (3, $1, 1), (4, $2, 1)', [k0, k1], { schema });
      expect((await all()).rows[0]!.n).toBe(4);
      await pgm.query('DELETE FROM orders WHERE total = $1', [1], { schema });
      expect((await all()).rows[0]!.n).toBe(0);
    });
  });
});
