import type { ClusterConfiguration, ShardKeyType } from '@pg-multiverse/core';
import { hashShard } from '@pg-multiverse/router';
import { uniqueName } from '@pg-multiverse/testkit';
import fc from 'fast-check';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';
import { misplacedRows } from './fixtures/two-shards.js';

// Cross-shard writes against an oracle: the same multi-row INSERTs (parameters), UPDATEs and DELETEs
// without a key run on a table sharded over two real servers (4 partitions) and on one plain table;
// afterwards both hold the same rows, every sharded row sits on the shard hashShard names (checked by
// PostgreSQL's satisfies_hash_partition), and each RETURNING equals the oracle's. int8, text and uuid keys.
const topo = inject('pgmTopology');
const { id: _a, ...serverA } = topo.config.users_cluster!.primary;
const { id: _b, ...serverB } = topo.config.commerce_cluster!.primary;
const admin = [new pg.Pool({ ...serverA, max: 2 }), new pg.Pool({ ...serverB, max: 2 })] as const;
const schemas: string[] = [];

afterAll(async () => {
  for (const p of admin) {
    for (const s of schemas) await p.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`);
    await p.end();
  }
});

type Op =
  | { kind: 'insert'; rows: Array<[key: number, v: number | null]> }
  | { kind: 'update'; delta: number; above: number }
  | { kind: 'delete'; below: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      rows: fc.array(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.option(fc.integer({ min: -50, max: 50 }))), {
        minLength: 1,
        maxLength: 12,
      }),
    }),
    weight: 3,
  },
  fc.record({
    kind: fc.constant('update' as const),
    delta: fc.integer({ min: -5, max: 5 }),
    above: fc.integer({ min: -50, max: 50 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), below: fc.integer({ min: -60, max: 0 }) }),
);

const KEY: Record<'int8' | 'text' | 'uuid', (k: number) => unknown> = {
  int8: (k) => k * 1_000_003,
  text: (k) => `user-${k}`,
  uuid: (k) => `00000000-0000-4000-8000-${k.toString(16).padStart(12, '0')}`,
};

describe.each(['int8', 'text', 'uuid'] as const)('cross-shard writes equal one table (%s keys)', (keyType) => {
  const schema = uniqueName(`fwo_${keyType}`);
  schemas.push(schema);
  let pgm: PgMultiverse;
  const config: ClusterConfiguration = {
    sharded: {
      schemas: [schema],
      primary: serverA,
      sharding: {
        strategy: 'hash',
        key: 'k',
        keyType: keyType as ShardKeyType,
        partitions: 4,
        shards: [{ primary: serverA }, { primary: serverB }],
      },
    },
  };

  beforeAll(async () => {
    for (const p of admin) await p.query(`CREATE SCHEMA ${schema}`);
    pgm = new PgMultiverse();
    await pgm.initialize(config);
    const ddl = `CREATE TABLE t (id int PRIMARY KEY, k ${keyType} NOT NULL, v int)`;
    await pgm.query(ddl, [], { schema }); // every shard
    await pgm.query(`CREATE TABLE pt (k ${keyType}) PARTITION BY HASH (k)`, [], { schema });
    await admin[0].query(`CREATE TABLE ${schema}.oracle (id int PRIMARY KEY, k ${keyType} NOT NULL, v int)`);
  });

  afterAll(async () => {
    await pgm?.close();
  });

  it('same rows and RETURNING as the oracle after random INSERT/UPDATE/DELETE sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 6 }), async (ops) => {
        await Promise.all(admin.map((p) => p.query(`TRUNCATE ${schema}.t`)));
        await admin[0].query(`TRUNCATE ${schema}.oracle`);
        let nextId = 1;
        const oracle = (sql: string, params: unknown[]) =>
          admin[0].query(sql.replace(/\bt\b/, `${schema}.oracle`), params);
        const sorted = (rows: Record<string, unknown>[]) => rows.map((r) => JSON.stringify(r)).sort();
        for (const op of ops) {
          let sql: string;
          let params: unknown[];
          if (op.kind === 'insert') {
            params = [];
            const tuples = op.rows.map(([key, v]) => {
              params.push(nextId++, KEY[keyType](key), v);
              const n = params.length;
              return `($${n - 2}, $${n - 1}, $${n})`;
            });
            sql = `INSERT INTO t (id, k, v) VALUES ${tuples.join(', ')} RETURNING id, k, v`;
          } else if (op.kind === 'update') {
            sql = 'UPDATE t SET v = v + $1 WHERE v > $2 RETURNING id, v';
            params = [op.delta, op.above];
          } else {
            sql = 'DELETE FROM t WHERE v < $1 OR v IS NULL RETURNING id';
            params = [op.below];
          }
          const got = await pgm.query(sql, params, { schema });
          const want = await oracle(sql, params);
          expect(got.rowCount).toBe(want.rowCount);
          if (op.kind === 'insert')
            expect(got.rows).toEqual(want.rows); // VALUES order
          else expect(sorted(got.rows)).toEqual(sorted(want.rows));
        }
        const [s0, s1, o] = await Promise.all([
          admin[0].query(`SELECT id, k, v FROM ${schema}.t`),
          admin[1].query(`SELECT id, k, v FROM ${schema}.t`),
          admin[0].query(`SELECT id, k, v FROM ${schema}.oracle`),
        ]);
        expect(sorted([...s0.rows, ...s1.rows])).toEqual(sorted(o.rows)); // nothing lost, nothing duplicated
        for (const [s, res] of [s0, s1].entries()) {
          for (const r of res.rows) expect(hashShard(r.k, 4, keyType) % 2, `${r.k} on shard-${s}`).toBe(s);
        }
        const misplaced = await Promise.all([
          misplacedRows(admin[0], schema, 't', 0, 'k'),
          misplacedRows(admin[1], schema, 't', 1, 'k'),
        ]);
        expect(misplaced).toEqual([0, 0]);
      }),
      { numRuns: 12 },
    );
  });
});
