import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';

// Through the facade, migrations run on every shard of a cluster sharded over listed
// servers (through the router's shard primaries), and sharded queries then find their tables.
const { config } = inject('pgmTopology');
const { id: _a, ...serverA } = config.users_cluster!.primary;
const { id: _b, ...serverB } = config.commerce_cluster!.primary;
const schema = uniqueName('fsh');
const controlSchema = uniqueName('ctl');
const admin = [new pg.Pool({ ...serverA, max: 1 }), new pg.Pool({ ...serverB, max: 1 })];
let dir: string | undefined;

afterAll(async () => {
  for (const p of admin) {
    for (const s of [schema, controlSchema]) await p.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await p.end();
  }
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('facade on a cluster sharded over listed servers', () => {
  it('migrates every shard; each shard key then writes its own shard; transactions are refused', async () => {
    dir = await mkdtemp(join(tmpdir(), 'pgm-fshard-'));
    const pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: dir, controlSchema } });
    await pgm.initialize({
      orders_cluster: {
        schemas: [schema],
        primary: serverA,
        sharding: {
          strategy: 'hash',
          key: 'user_id',
          partitions: 4,
          shards: [{ primary: serverA }, { primary: serverB }],
        },
      },
    });
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

      // A transaction's participants are whole clusters: over shards it is refused up front.
      let ran = false;
      const err = await pgm
        .withTransaction([schema], async () => {
          ran = true;
        })
        .catch((e) => e);
      expect(err.code).toBe('NOT_SUPPORTED');
      expect(err.message).toMatch(/sharded over 2 servers \(shard-0, shard-1\).*shardKey/);
      expect(ran).toBe(false);
    } finally {
      await pgm.close();
    }
  });
});
