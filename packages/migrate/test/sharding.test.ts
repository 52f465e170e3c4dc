import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterConfiguration } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type MigrationEvent, MigrationManager } from '../src/index.js';

// A cluster sharded over two servers (the shared topology's two primaries) and a plain
// cluster: every shard's primary must get the schema's migrations and keep its own history.
const { config } = inject('pgmTopology');
const { id: _a, ...serverA } = config.users_cluster!.primary;
const { id: _b, ...serverB } = config.commerce_cluster!.primary;
const sharded = uniqueName('msh');
const plain = uniqueName('mpl');
const controlSchema = uniqueName('ctl');
const clusters: ClusterConfiguration = {
  orders_cluster: {
    schemas: [sharded],
    primary: serverA,
    sharding: { strategy: 'hash', key: 'user_id', partitions: 4, shards: [{ primary: serverA }, { primary: serverB }] },
  },
  plain_cluster: { schemas: [plain], primary: serverB },
};
const admin = { a: new pg.Pool({ ...serverA, max: 2 }), b: new pg.Pool({ ...serverB, max: 2 }) };
let dir: string;
const managers: MigrationManager[] = [];
const manager = () => {
  const mm = new MigrationManager({ clusters, migrationsPath: dir, controlSchema, lockTimeout: 10_000 });
  managers.push(mm);
  return mm;
};
const history = async (server: 'a' | 'b', schema: string) =>
  (
    await admin[server].query<{ version: string }>(
      `SELECT version FROM "${controlSchema}".pg_multiverse_migrations WHERE schema_name = $1 ORDER BY id`,
      [schema],
    )
  ).rows.map((r) => r.version);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgm-shards-'));
  await writeFile(
    join(dir, '20240301000000_orders.ts'),
    `export default {
  targetSchemas: ['${sharded}'],
  async up(ctx) {
    await ctx.query('CREATE TABLE orders (user_id int8, shard text)');
    await ctx.query('INSERT INTO orders VALUES (0, $1)', [ctx.shard ?? 'none']);
  },
  async down(ctx) { await ctx.query('DROP TABLE orders'); },
};
`,
  );
  await writeFile(
    join(dir, '20240301000100_plain.sql'),
    `-- pgm:targetSchemas ${plain}\n-- up\nCREATE TABLE notes (id int);\n-- down\nDROP TABLE notes;\n`,
  );
});

afterAll(async () => {
  for (const m of managers) await m.close();
  for (const p of Object.values(admin)) {
    for (const s of [sharded, plain, controlSchema]) await p.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await p.end();
  }
  await rm(dir, { recursive: true, force: true });
});

describe('migrations on a cluster sharded over listed servers', () => {
  it('runs each migration on every shard primary, each with its own history, and reports the shard', async () => {
    const mm = manager();
    const started: MigrationEvent[] = [];
    mm.on('migrationStarted', (e) => started.push(e));
    const before = await mm.getStatus();
    expect(before.targets.map((t) => `${t.cluster}/${t.shard ?? '-'}/${t.schema}:${t.pending}`).sort()).toEqual(
      [
        `orders_cluster/shard-0/${sharded}:1`,
        `orders_cluster/shard-1/${sharded}:1`,
        `plain_cluster/-/${plain}:1`,
      ].sort(),
    );

    const res = await mm.migrate();
    expect(res.applied).toBe(3);
    expect(res.steps.filter((s) => s.schema === sharded).map((s) => s.shard)).toEqual(['shard-0', 'shard-1']);
    expect(res.steps.find((s) => s.schema === plain)!.shard).toBeUndefined();
    expect(started.filter((e) => e.schema === sharded).map((e) => e.shard)).toEqual(['shard-0', 'shard-1']);

    // Each shard server has the table, holding the id of the shard the step ran as.
    const shardOn = async (server: 'a' | 'b') =>
      (await admin[server].query<{ shard: string }>(`SELECT shard FROM "${sharded}".orders`)).rows.map((r) => r.shard);
    expect(await shardOn('a')).toEqual(['shard-0']);
    expect(await shardOn('b')).toEqual(['shard-1']);
    expect(await history('a', sharded)).toEqual(['20240301000000_orders']);
    expect(await history('b', sharded)).toEqual(['20240301000000_orders']);
    expect(await history('b', plain)).toEqual(['20240301000100_plain']);

    const after = await mm.getStatus();
    expect(after.pendingMigrations).toBe(0);
    expect(after.bySchema[sharded]).toMatchObject({ cluster: 'orders_cluster', applied: 2, pending: 0 });
    expect(after.byCluster.orders_cluster).toEqual({ applied: 2, pending: 0 });
  });

  it('a shard that fell behind is caught up alone; rollback undoes the migration on every shard', async () => {
    const mm = manager();
    // shard-1 loses its history row and table (as if it were added later, empty)
    await admin.b.query(`DROP TABLE "${sharded}".orders`);
    await admin.b.query(`DELETE FROM "${controlSchema}".pg_multiverse_migrations WHERE schema_name = $1`, [sharded]);
    const status = await mm.getStatus({ targetSchemas: [sharded] });
    expect(status.targets.map((t) => `${t.shard}:${t.applied}/${t.pending}`)).toEqual(['shard-0:1/0', 'shard-1:0/1']);
    expect(status.bySchema[sharded]).toMatchObject({ applied: 1, pending: 1 });
    expect(status.bySchema[sharded]!.lastApplied).toBeUndefined(); // the shard furthest behind has none

    const res = await mm.migrate();
    expect(res.steps.map((s) => `${s.shard}:${s.status}`)).toEqual(['shard-1:applied']);
    expect(await history('b', sharded)).toEqual(['20240301000000_orders']);

    const down = await mm.rollback({ targetSchemas: [sharded] });
    expect(down.steps.map((s) => `${s.shard}:${s.status}`).sort()).toEqual([
      'shard-0:rolledBack',
      'shard-1:rolledBack',
    ]);
    for (const server of ['a', 'b'] as const) {
      expect(await history(server, sharded)).toEqual([]);
      const t = await admin[server].query('SELECT to_regclass($1) AS t', [`"${sharded}".orders`]);
      expect(t.rows[0].t).toBeNull();
    }
  });
});
