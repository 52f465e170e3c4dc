import type { QueryExecutedEvent } from '@pg-multiverse/router';
import { uniqueName } from '@pg-multiverse/testkit';
import type { TransactionCommittedEvent } from '@pg-multiverse/tx';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';
import { twoShards } from './fixtures/two-shards.js';

// Statements inside withTransaction on a cluster sharded over two real servers (4 partitions,
// partition p on shard-(p % 2)) are routed as query() routes them: the key found in the SQL picks the
// shard's participant; a write on several shards is split over the participants (atomic by the
// transaction's two-phase commit); a read on several shards runs on the participants (it sees the
// transaction's own writes) and is merged. Where rows landed is checked on the servers themselves.
const schema = uniqueName('fstx');
const { admin, config, keyOn, perShard, counts, misplaced, create, drop } = twoShards(inject('pgmTopology'), schema);
let pgm: PgMultiverse;
const committed: TransactionCommittedEvent[] = [];
const P0 = 'orders_cluster[shard-0]';
const P1 = 'orders_cluster[shard-1]';
const k0 = keyOn(0);
const k0b = keyOn(0, k0 + 1);
const k1 = keyOn(1);
const k1b = keyOn(1, k1 + 1);

/** The participants the last committed transaction's statements ran on, in order. */
const lastParticipants = () => committed.at(-1)!.statements.map((s) => s.participant);
const sum = () => perShard(`SELECT coalesce(sum(total), 0)::int AS n FROM ${schema}.orders`);

beforeAll(async () => {
  await create();
  for (const p of admin) {
    await p.query(
      `CREATE TABLE ${schema}.orders (id int PRIMARY KEY, user_id int8 NOT NULL, total int NOT NULL CHECK (total >= 0))`,
    );
  }
  pgm = new PgMultiverse();
  await pgm.initialize(config);
  pgm.on('transactionCommitted', (e) => committed.push(e));
});

afterAll(async () => {
  await pgm?.close();
  await drop();
});

beforeEach(async () => {
  await Promise.all(admin.map((p) => p.query(`TRUNCATE ${schema}.orders`)));
  committed.length = 0;
});

describe('withTransaction on a sharded cluster: no shardKey needed', () => {
  it('the key in the SQL ($n, literal, behind an alias, IN on one shard, in a CTE) picks the shard participant', async () => {
    const seen = await pgm.withTransaction([schema], async (tx) => {
      await tx.query('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)', [1, k0, 10]);
      await tx.query(`INSERT INTO orders (id, user_id, total) VALUES (2, ${k0b}, 20)`);
      const aliased = await tx.query<{ total: number }>('SELECT o.total FROM orders o WHERE o.user_id = $1', [k0]);
      await tx.query(`UPDATE orders SET total = total + 1 WHERE user_id = ${k0b}`);
      const both = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE user_id IN ($1, $2)', [
        k0,
        k0b,
      ]);
      const cte = await tx.query<{ n: number }>(
        'WITH mine AS (SELECT id FROM orders WHERE user_id = $1) SELECT count(*)::int AS n FROM mine',
        [k0b],
      );
      return { aliased: aliased.rows, both: both.rows[0]!.n, cte: cte.rows[0]!.n };
    });
    expect(seen).toEqual({ aliased: [{ total: 10 }], both: 2, cte: 1 });
    // every statement on shard-0's participant: one participant, no two-phase commit
    expect(lastParticipants()).toEqual([P0, P0, P0, P0, P0, P0]);
    expect(committed.at(-1)!.twoPhase).toBe(false);
    expect(await counts('orders')).toEqual([2, 0]);
    expect(await sum()).toEqual([31, 0]);
    expect(await misplaced('orders')).toEqual([0, 0]);
  });

  it('an explicit shardKey still wins over the SQL', async () => {
    await pgm.withTransaction([schema], async (tx) => {
      // the SQL names no key: the option decides
      const r = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM orders', [], { shardKey: k1 });
      expect(r.rows[0]!.n).toBe(0);
      await tx.query('INSERT INTO orders (id, user_id, total) VALUES (1, $1, 1)', [k1], { shardKey: k1 });
    });
    expect(lastParticipants()).toEqual([P1, P1]);
    expect(await counts('orders')).toEqual([0, 1]);
  });

  it('the key in the SQL costs the statements (round trips) an explicit shardKey costs', async () => {
    const statements: string[][] = [];
    const count = (e: QueryExecutedEvent) => e.transactionId !== undefined && statements.at(-1)!.push(e.sql);
    pgm.on('queryExecuted', count);
    try {
      for (const key of [{ shardKey: k1 }, {}]) {
        statements.push([]);
        await pgm.withTransaction([schema], async (tx) => {
          await tx.query('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 1)', [statements.length, k1], key);
          await tx.query('UPDATE orders SET total = total + 1 WHERE user_id = $1', [k1], key);
        });
      }
    } finally {
      pgm.off('queryExecuted', count);
    }
    // BEGIN travels with the first statement; then the UPDATE and COMMIT: the same with and without shardKey
    expect(statements[1]).toEqual(statements[0]);
    expect(statements[0]!.length).toBe(3);
    expect(await counts('orders')).toEqual([0, 2]);
  });

  it('a multi-row INSERT spanning shards is split over the participants; reads see it merged; 2PC commits', async () => {
    const n = 30;
    const tuples: string[] = [];
    const values: unknown[] = [];
    for (let i = 1; i <= n; i++) {
      tuples.push(`($${2 * i - 1}, $${2 * i}, ${i})`);
      values.push(i, i * 17);
    }
    const inside = await pgm.withTransaction([schema], async (tx) => {
      const ins = await tx.query<{ id: number }>(
        `INSERT INTO orders (id, user_id, total) VALUES ${tuples.join(', ')} RETURNING id`,
        values,
      );
      // RETURNING in VALUES order, as from one database
      expect(ins.rowCount).toBe(n);
      expect(ins.rows.map((r) => r.id)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      // not committed yet: invisible outside, visible to the transaction's own cross-shard reads
      expect(await counts('orders')).toEqual([0, 0]);
      const all = await tx.query<{ n: string; s: string }>('SELECT count(*) AS n, sum(total) AS s FROM orders');
      const top = await tx.query<{ id: number }>('SELECT id, user_id FROM orders ORDER BY user_id DESC LIMIT 3');
      return { all: { n: Number(all.rows[0]!.n), s: Number(all.rows[0]!.s) }, top: top.rows.map((r) => r.id) };
    });
    expect(inside).toEqual({ all: { n, s: (n * (n + 1)) / 2 }, top: [30, 29, 28] });
    const e = committed.at(-1)!;
    expect(e.twoPhase).toBe(true);
    expect(new Set(lastParticipants())).toEqual(new Set([P0, P1]));
    const [a, b] = await counts('orders');
    expect(a > 0 && b > 0 && a + b === n).toBe(true);
    expect(await misplaced('orders')).toEqual([0, 0]);
  });

  it('a failure after (or inside) a split INSERT leaves no shard changed', async () => {
    const insert = 'INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 1), ($3, $4, 1), ($5, $6, 1)';
    const params = [1, k0, 2, k1, 3, k1b];
    // the callback fails after the INSERT went to both shards
    const thrown = await pgm
      .withTransaction([schema], async (tx) => {
        await tx.query(insert, params);
        expect((await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM orders')).rows[0]!.n).toBe(3);
        throw new Error('forced failure');
      })
      .catch((err) => err);
    expect(thrown.message).toBe('forced failure');
    expect(await counts('orders')).toEqual([0, 0]);
    // one shard's part fails (CHECK on shard-1's row): the other shard's part is rolled back too
    const bad = await pgm
      .withTransaction([schema], async (tx) => {
        await tx.query('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 1), ($3, $4, -1)', [1, k0, 2, k1]);
      })
      .catch((err) => err);
    expect(bad.message).toMatch(/check constraint/);
    expect(await counts('orders')).toEqual([0, 0]);
    // then it commits, and the rows are where PostgreSQL would place them
    await pgm.withTransaction([schema], (tx) => tx.query(insert, params));
    expect(await counts('orders')).toEqual([1, 2]);
    expect(await misplaced('orders')).toEqual([0, 0]);
  });

  it('UPDATE and DELETE without a key run on every shard (RETURNING merged), atomically', async () => {
    await pgm.query(
      'INSERT INTO orders (id, user_id, total) VALUES (1, $1, 10), (2, $2, 1), (3, $3, 5), (4, $4, 500)',
      [k0, k1, k1b, k0b],
      {
        schema,
      },
    );
    const r = await pgm.withTransaction([schema], async (tx) => {
      const up = await tx.query<{ id: number }>('UPDATE orders SET total = total + $1 RETURNING id', [100]);
      const del = await tx.query('DELETE FROM orders WHERE total > $1 AND total < $2', [102, 200]);
      return { up: up.rows.map((x) => x.id).sort(), upCount: up.rowCount, deleted: del.rowCount };
    });
    expect(r).toEqual({ up: [1, 2, 3, 4], upCount: 4, deleted: 2 });
    expect(committed.at(-1)!.twoPhase).toBe(true);
    expect(await sum()).toEqual([600, 101]);
    // a keyless UPDATE failing on one shard leaves both unchanged
    const err = await pgm
      .withTransaction([schema], (tx) => tx.query('UPDATE orders SET total = total - 102'))
      .catch((e) => e);
    expect(err.message).toMatch(/check constraint/);
    expect(await sum()).toEqual([600, 101]);
  });

  it('a savepoint covers the shards a later statement spreads to; rolling back to it undoes every part', async () => {
    await pgm.withTransaction([schema], async (tx) => {
      await tx.query('INSERT INTO orders (id, user_id, total) VALUES (1, $1, 1)', [k0]);
      const sp = await tx.savepoint();
      // shard-1 joins after the savepoint: it gets the savepoint too
      await tx.query('INSERT INTO orders (id, user_id, total) VALUES (2, $1, 1), (3, $2, 1)', [k0b, k1]);
      await tx.query('UPDATE orders SET total = 50');
      expect((await tx.query<{ n: string }>('SELECT sum(total) AS n FROM orders')).rows[0]!.n).toBe('150');
      await tx.rollbackToSavepoint(sp);
      expect((await tx.query<{ n: string }>('SELECT count(*) AS n FROM orders')).rows[0]!.n).toBe('1');
      await tx.query('INSERT INTO orders (id, user_id, total) VALUES (4, $1, 4)', [k1b]);
    });
    expect(await sum()).toEqual([1, 4]);
    expect(await misplaced('orders')).toEqual([0, 0]);
  });

  it('DDL goes to every shard, inside the transaction (rolled back with it)', async () => {
    const err = await pgm
      .withTransaction([schema], async (tx) => {
        await tx.query('CREATE TABLE extra (user_id int8 PRIMARY KEY)');
        await tx.query('INSERT INTO extra (user_id) VALUES ($1), ($2)', [k0, k1]);
        throw new Error('forced failure');
      })
      .catch((e) => e);
    expect(err.message).toBe('forced failure');
    const tables = `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = '${schema}' AND table_name = 'extra'`;
    expect(await perShard(tables)).toEqual([0, 0]);
    await pgm.withTransaction([schema], (tx) => tx.query('CREATE TABLE extra (user_id int8 PRIMARY KEY)'));
    expect(await perShard(tables)).toEqual([1, 1]);
  });

  it('refusals carry their codes, run nothing, and leave the transaction usable', async () => {
    await pgm.withTransaction([schema], async (tx) => {
      const cases: Array<[string, unknown[], Record<string, unknown>, string, RegExp]> = [
        ['UPDATE orders SET user_id = $1 WHERE id = 1', [5], {}, 'SHARD_KEY_UPDATE', /assigns "user_id"/],
        [
          'UPDATE orders SET user_id = 5 WHERE user_id = $1',
          [k0],
          { shardKey: k0 },
          'SHARD_KEY_UPDATE',
          /another shard/,
        ],
        [
          'SELECT user_id, row_number() OVER (ORDER BY id) FROM orders',
          [],
          {},
          'CROSS_SHARD_UNSUPPORTED',
          /window function.*shardKey/,
        ],
        ['INSERT INTO orders (id, total) VALUES (1, 2), (2, 3)', [], {}, 'SHARD_KEY_REQUIRED', /does not name/],
        [
          'INSERT INTO orders (id, user_id, total) SELECT 1, 2, 3',
          [],
          {},
          'CROSS_SHARD_UNSUPPORTED',
          /INSERT ... SELECT/,
        ],
        ["SELECT pg_advisory_xact_lock(1), nextval('nope')", [], {}, 'CROSS_SHARD_UNSUPPORTED', /names no table/],
        // a locking read is a write to the analysis; on several shards it is refused, as by query()
        ['SELECT id FROM orders FOR UPDATE', [], {}, 'CROSS_SHARD_UNSUPPORTED', /SELECT statement/],
      ];
      for (const [sql, params, options, code, message] of cases) {
        const err = await tx.query(sql, params, options).catch((e) => e);
        expect(err.code, sql).toBe(code);
        expect(err.message, sql).toMatch(message);
      }
      await tx.query('INSERT INTO orders (id, user_id, total) VALUES (1, $1, 1)', [k1]);
    });
    expect(await counts('orders')).toEqual([0, 1]);
  });
});

describe('withTransaction on a sharded cluster with enableTransactions off', () => {
  it('a statement that would open a second shard is FEATURE_DISABLED; nothing is written', async () => {
    const off = new PgMultiverse({ enableTransactions: false });
    await off.initialize(config);
    try {
      await off.query('INSERT INTO orders (id, user_id, total) VALUES (1, $1, 1), (2, $2, 1)', [k0, k1], {
        schema,
        atomic: false,
      });
      // one shard: a plain transaction, no shardKey needed
      await off.withTransaction([schema], (tx) => tx.query('UPDATE orders SET total = 7 WHERE user_id = $1', [k1]));
      expect(await sum()).toEqual([1, 7]);
      const err = await off
        .withTransaction([schema], (tx) => tx.query('UPDATE orders SET total = total + 1'))
        .catch((e) => e);
      expect(err.code).toBe('FEATURE_DISABLED');
      expect(err.message).toMatch(/orders_cluster\[shard-0\], orders_cluster\[shard-1\].*enableTransactions: false/);
      expect(await sum()).toEqual([1, 7]);
    } finally {
      await off.close();
    }
  });
});

describe('pgm.pool() on a sharded cluster', () => {
  it("a client's transaction runs on the shard its first keyed statement names; other shards are refused", async () => {
    const pool = pgm.pool({ schema });
    try {
      // outside transactions, pool.query routes as query() does
      await pool.query('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 1), ($3, $4, 1)', [1, k0, 2, k1]);
      expect(await counts('orders')).toEqual([1, 1]);
      expect((await pool.query('SELECT count(*)::int AS n FROM orders')).rows).toEqual([{ n: 2 }]);

      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // nothing pinned yet: a statement on several shards is refused, the transaction stays open
        const first = await client.query('UPDATE orders SET total = 0').catch((e: unknown) => e);
        expect((first as { code: string }).code).toBe('CROSS_SHARD_UNSUPPORTED');
        expect((first as Error).message).toMatch(/2 shards .*pgm\.withTransaction/);
        await client.query('INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 5)', [3, k1b]);
        const mine = await client.query('SELECT total FROM orders WHERE user_id = $1', [k1b]);
        expect(mine.rows).toEqual([{ total: 5 }]);
        for (const [sql, params] of [
          ['INSERT INTO orders (id, user_id, total) VALUES ($1, $2, 5)', [4, k0b]],
          ['SELECT count(*)::int AS n FROM orders', []],
        ] as const) {
          const err = await client.query(sql, [...params]).catch((e: unknown) => e);
          expect((err as { code: string }).code, sql).toBe('CROSS_SHARD_UNSUPPORTED');
          expect((err as Error).message, sql).toMatch(/runs on shard "shard-1"/);
        }
        expect(client.getTransactionStatus()).toBe('T');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      expect(await counts('orders')).toEqual([1, 2]);
      expect(await misplaced('orders')).toEqual([0, 0]);
    } finally {
      await pool.end();
    }
  });
});
