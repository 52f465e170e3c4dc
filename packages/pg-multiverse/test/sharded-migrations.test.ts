import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterConfiguration } from '@pg-multiverse/core';
import { hashShard } from '@pg-multiverse/router';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';

// Through the facade, migrations run on every shard of a cluster sharded over listed
// servers (through the router's shard primaries), and sharded queries then find their tables.
const topo = inject('pgmTopology');
const { id: _a, ...serverA } = topo.config.users_cluster!.primary;
const { id: _b, ...serverB } = topo.config.commerce_cluster!.primary;
const schema = uniqueName('fsh');
const controlSchema = uniqueName('ctl');
const admin = [new pg.Pool({ ...serverA, max: 1 }), new pg.Pool({ ...serverB, max: 1 })];
let dir: string | undefined;
// One cluster whose 4 hash partitions live on two servers: partition p on shard-(p % 2).
const config: ClusterConfiguration = {
  orders_cluster: {
    schemas: [schema],
    primary: serverA,
    sharding: { strategy: 'hash', key: 'user_id', partitions: 4, shards: [{ primary: serverA }, { primary: serverB }] },
  },
};
/** The first key from `from` on that shard. */
const keyOn = (shard: 0 | 1, from = 1): number => {
  let k = from;
  while (hashShard(k, 4, 'int8') % 2 !== shard) k++;
  return k;
};

afterAll(async () => {
  for (const p of admin) {
    for (const s of [schema, controlSchema]) await p.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await p.end();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('facade on a cluster sharded over listed servers', () => {
  it('with enableTransactions off, a transaction stays on one shard', async () => {
    const pgm = new PgMultiverse({ enableTransactions: false });
    await pgm.initialize(config);
    try {
      const [a, b] = [keyOn(0), keyOn(1)];
      const one = await pgm.withTransaction([schema], (tx) =>
        tx.query<{ v: number }>('SELECT $1::int AS v', [a], { shardKey: a }),
      );
      expect(one.rows[0]!.v).toBe(a);
      const err = await pgm
        .withTransaction([schema], async (tx) => {
          await tx.query('SELECT 1', [], { shardKey: a });
          await tx.query('SELECT 1', [], { shardKey: b });
        })
        .catch((e) => e);
      expect(err.code).toBe('FEATURE_DISABLED');
      expect(err.message).toMatch(/orders_cluster\[shard-0\], orders_cluster\[shard-1\].*enableTransactions: false/);
    } finally {
      await pgm.close();
    }
  });

  it('migrates every shard; each shard key then writes its own shard, in transactions too', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgm-fshard-'));
    const pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: dir, controlSchema } });
    await pgm.initialize(config);
    try {
      pgm.addMigration({
        version: '20240401000000_orders',
        async up(ctx) {
          await ctx.query('CREATE TABLE orders (user_id int8 PRIMARY KEY, total int)');
        },
        async down(ctx) {
          await ctx.query('DROP TABLE orders');
        },
      });
      const res = await pgm.migrate();
      expect(res.steps.map((s) => s.shard)).toEqual(['shard-0', 'shard-1']);
      const status = await pgm.getMigrationStatus();
      expect(status.targets.map((t) => `${t.shard}:${t.applied}`)).toEqual(['shard-0:1', 'shard-1:1']);

      const ports = new Set<number>();
      for (let userId = 1; userId <= 12; userId++) {
        const w = await pgm.query<{ port: number }>(
          'INSERT INTO orders VALUES ($1, 10) RETURNING inet_server_port() AS port',
          [userId],
          { schema, shardKey: userId },
        );
        ports.add(w.rows[0]!.port);
      }
      expect(ports.size).toBe(2); // both shards took rows: the table exists on each

      // Transactions: each statement's shard key picks the shard that takes part.
      const [k0, k1] = [keyOn(0, 200), keyOn(1, 200)];
      const committed: { clusters: string[]; twoPhase: boolean }[] = [];
      pgm.on('transactionCommitted', (e) => committed.push(e as unknown as { clusters: string[]; twoPhase: boolean }));
      const count = async (userId: number) =>
        (
          await pgm.query<{ n: number }>('SELECT count(*)::int AS n FROM orders WHERE user_id = $1', [userId], {
            schema,
            shardKey: userId,
            role: 'primary',
          })
        ).rows[0]!.n;

      // one shard: a plain transaction
      await pgm.withTransaction([schema], async (tx) => {
        await tx.query('INSERT INTO orders VALUES ($1, 1)', [k0], { shardKey: k0 });
        await tx.query('UPDATE orders SET total = total + 1 WHERE user_id = $1', [k0], { shardKey: k0 });
      });
      expect(committed.at(-1)).toMatchObject({ clusters: ['orders_cluster[shard-0]'], twoPhase: false });
      expect(await count(k0)).toBe(1);

      // two shards: two-phase commit, both or neither
      await pgm.withTransaction([schema], async (tx) => {
        await tx.query('INSERT INTO orders VALUES ($1, 1)', [k1], { shardKey: k1 });
        await tx.query('UPDATE orders SET total = 5 WHERE user_id = $1', [k0], { shardKey: k0 });
      });
      expect(committed.at(-1)!.twoPhase).toBe(true);
      expect([...committed.at(-1)!.clusters].sort()).toEqual(['orders_cluster[shard-0]', 'orders_cluster[shard-1]']);
      expect(await count(k1)).toBe(1);
      const failed = await pgm
        .withTransaction([schema], async (tx) => {
          await tx.query('DELETE FROM orders WHERE user_id = $1', [k0], { shardKey: k0 });
          await tx.query('DELETE FROM orders WHERE user_id = $1', [k1], { shardKey: k1 });
          throw new Error('abort after touching both shards');
        })
        .catch((e) => e);
      expect(failed.message).toBe('abort after touching both shards');
      expect([await count(k0), await count(k1)]).toEqual([1, 1]);

      // no shardKey: tx.query routes by the SQL as query() does (a text that reads no table: one shard);
      // withConnection has no SQL to find a key in, so it still needs one
      const noKey = await pgm.withTransaction([schema], (tx) => tx.query<{ one: number }>('SELECT 1 AS one'));
      expect(noKey.rows).toEqual([{ one: 1 }]);
      const noKeyConn = await pgm
        .withTransaction([schema], (tx) => tx.withConnection((c) => c.query('SELECT 1')))
        .catch((e) => e);
      expect(noKeyConn.code).toBe('SHARD_KEY_REQUIRED');
    } finally {
      await pgm.close();
    }
  });
});
