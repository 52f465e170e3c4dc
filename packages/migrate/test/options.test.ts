import { poolProvider } from '@pg-multiverse/core';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Migration, MigrationManager } from '../src/index.js';
import { type Sandbox, sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

const create = (
  version: string,
  schemas: string[] | undefined,
  name: string,
  extra: Partial<Migration> = {},
): Migration => ({
  version,
  name,
  ...(schemas ? { targetSchemas: schemas } : {}),
  async up(ctx) {
    await ctx.query(`CREATE TABLE ${name} (id int)`);
  },
  async down(ctx) {
    await ctx.query(`DROP TABLE ${name}`);
  },
  ...extra,
});

describe('options', () => {
  it('dryRun prints the plan in order and changes nothing (no control tables, no schemas)', async () => {
    const lines: string[] = [];
    const mm = sb.manager({ logger: { info: (m) => lines.push(m), warn() {}, error() {} } });
    mm.addMigration(create('20240101000001_a', [sb.u1, sb.c1], 'a'));
    mm.addMigration(create('20240101000002_b', [sb.u1], 'b'));
    const plans: unknown[] = [];
    mm.on('plan', (p) => plans.push(p));
    const res = await mm.migrate({ dryRun: true });
    expect(res.dryRun).toBe(true);
    expect(res.steps.map((s) => s.status)).toEqual(['planned', 'planned', 'planned']);
    expect(lines[0]).toMatch(/Dry run: would apply 3 steps/);
    expect(lines.slice(1)).toEqual([
      `  1. 20240101000001_a (a) -> ${sb.u1}@users_cluster`,
      `  2. 20240101000001_a (a) -> ${sb.c1}@commerce_cluster`,
      `  3. 20240101000002_b (b) -> ${sb.u1}@users_cluster`,
    ]);
    expect(plans).toHaveLength(1);
    const ns = await sb.admin.users_cluster.query('SELECT nspname FROM pg_namespace WHERE nspname = ANY($1)', [
      [sb.u1, sb.controlSchema],
    ]);
    expect(ns.rows).toEqual([]);
  });

  it('targetSchemas, targetClusters and targetVersion narrow the run; defaults reach every schema', async () => {
    const mm = sb.manager();
    mm.addMigration(create('20240101000001_everywhere', undefined, 'e'));
    mm.addMigration(
      create('20240101000002_users_only', [sb.u1, sb.u2, sb.c1], 'u', { targetClusters: ['users_cluster'] }),
    );
    mm.addMigration(create('20240101000003_later', [sb.u1], 'l'));
    const r1 = await mm.migrate({ targetClusters: ['commerce_cluster'] });
    expect(r1.steps.map((s) => s.schema)).toEqual([sb.c1]);
    const r2 = await mm.migrate({ targetSchemas: [sb.u2] });
    expect(r2.steps.map((s) => s.version.slice(15))).toEqual(['everywhere', 'users_only']);
    const r3 = await mm.migrate({ targetVersion: '20240101000002_users_only' });
    expect(r3.steps.map((s) => `${s.name}@${s.schema}`)).toEqual([`e@${sb.u1}`, `u@${sb.u1}`]);
    expect(await sb.tables('commerce_cluster', sb.c1)).toEqual(['e']);
    await expect(mm.migrate({ targetSchemas: ['nope'] })).rejects.toMatchObject({ code: 'UNKNOWN_SCHEMA' });
  });

  it('a newly added schema catches up alone, and the schema is created if missing', async () => {
    const mm = sb.manager();
    mm.addMigration(create('20240101000001_a', undefined, 'a'));
    mm.addMigration(create('20240101000002_b', undefined, 'b'));
    await mm.migrate({ targetSchemas: [sb.u1] });
    const schemas: Record<string, string> = { [sb.u1]: 'users_cluster', [sb.u2]: 'users_cluster' };
    const grown = sb.manager({ schemas: () => schemas });
    grown.addMigration(create('20240101000001_a', undefined, 'a'));
    grown.addMigration(create('20240101000002_b', undefined, 'b'));
    const r = await grown.migrate();
    expect(r.steps.map((s) => s.schema)).toEqual([sb.u2, sb.u2]);
    expect(await sb.tables('users_cluster', sb.u2)).toEqual(['a', 'b']);
  });

  it('custom (quoted) control table names; autoCreateMigrationsTable false refuses to create them', async () => {
    const strict = sb.manager({ autoCreateMigrationsTable: false });
    strict.addMigration(create('20240101000001_a', [sb.c1], 'a'));
    await expect(strict.migrate()).rejects.toThrow(/autoCreateMigrationsTable/);
    const mm = sb.manager({ migrationsTable: 'My "History"', lockTable: 'Lock Table' });
    mm.addMigration(create('20240101000001_a', [sb.c1], 'a'));
    await mm.migrate();
    expect((await sb.history('commerce_cluster', sb.c1, 'My ""History""')).map((r) => r.version)).toEqual([
      '20240101000001_a',
    ]);
    const t = await sb.admin.commerce_cluster.query(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
      [sb.controlSchema],
    );
    expect(t.rows.map((r) => r.table_name)).toEqual(['Lock Table', 'My "History"']);
  });

  it('validateChecksums stops a changed migration; repairChecksums accepts it', async () => {
    await sb.write('20240101000001_a.sql', `-- pgm:targetSchemas ${sb.u1}\n-- up\nCREATE TABLE a (id int);\n`);
    await sb.manager().migrate();
    const file = await sb.write(
      '20240101000001_a.sql',
      `-- pgm:targetSchemas ${sb.u1}\n-- up\nCREATE TABLE a (id bigint);\n`,
    );
    const mm = sb.manager();
    await expect(mm.migrate()).rejects.toMatchObject({
      code: 'MIGRATION_CHECKSUM_MISMATCH',
      message: expect.stringMatching(new RegExp(`${file}.*users_cluster/${sb.u1}.*repairChecksums`)),
    });
    expect((await mm.getStatus({ targetSchemas: [sb.u1] })).targets[0]!.checksumMismatches).toEqual([
      '20240101000001_a',
    ]);
    await expect(sb.manager({ validateChecksums: false }).migrate()).resolves.toMatchObject({ failed: 0 });
    expect(await mm.repairChecksums()).toEqual([
      { cluster: 'users_cluster', schema: sb.u1, version: '20240101000001_a' },
    ]);
    await expect(mm.migrate()).resolves.toMatchObject({ failed: 0 });
    // CRLF checkout of the same file is not a change.
    await sb.write('20240101000001_a.sql', `-- pgm:targetSchemas ${sb.u1}\r\n-- up\r\nCREATE TABLE a (id bigint);\r\n`);
    await expect(sb.manager().migrate()).resolves.toMatchObject({ failed: 0 });
  });

  it('out-of-order pending migrations are refused unless allowOutOfOrder', async () => {
    const mm = sb.manager();
    mm.addMigration(create('20240101000002_b', [sb.u1], 'b'));
    await mm.migrate();
    const late = sb.manager();
    late.addMigration(create('20240101000001_a', [sb.u1], 'a'));
    late.addMigration(create('20240101000002_b', [sb.u1], 'b'));
    await expect(late.migrate()).rejects.toMatchObject({ code: 'MIGRATION_OUT_OF_ORDER' });
    const allowed = sb.manager({ allowOutOfOrder: true });
    allowed.addMigration(create('20240101000001_a', [sb.u1], 'a'));
    allowed.addMigration(create('20240101000002_b', [sb.u1], 'b'));
    expect((await allowed.migrate()).applied).toBe(1);
  });

  it('dependencies across clusters run first; a missing one fails before anything runs', async () => {
    const mm = sb.manager();
    const order: string[] = [];
    mm.on('migrationCompleted', (e) => order.push(`${e.name}@${e.cluster}`));
    mm.addMigration(create('20240101000001_orders', [sb.c1], 'orders', { dependencies: ['20240101000009_users'] }));
    mm.addMigration(create('20240101000009_users', [sb.u1], 'users'));
    await mm.migrate({ parallel: true });
    expect(order).toEqual(['users@users_cluster', 'orders@commerce_cluster']);
    const broken = sb.manager();
    broken.addMigration(create('20240101000001_x', [sb.u2], 'x', { dependencies: ['20991231000000_missing'] }));
    await expect(broken.migrate()).rejects.toMatchObject({ code: 'MIGRATION_DEPENDENCY' });
    expect(await sb.tables('users_cluster', sb.u2)).toEqual([]);
  });

  it('parallel runs targets concurrently up to maxParallel while each target stays ordered', async () => {
    const mm = sb.manager();
    let running = 0;
    let peak = 0;
    for (let i = 1; i <= 4; i++) {
      mm.addMigration({
        version: `2024010100000${i}_m${i}`,
        targetSchemas: [sb.u1, sb.u2, sb.c1],
        async up(ctx) {
          running++;
          peak = Math.max(peak, running);
          await ctx.query('SELECT pg_sleep(0.05)');
          await ctx.query(`CREATE TABLE t${i} (id int)`);
          if (i > 1) await ctx.query(`SELECT 1 FROM t${i - 1}`); // previous one on this target is committed
          running--;
        },
      });
    }
    const res = await mm.migrate({ parallel: true, maxParallel: 2 });
    expect(res.applied).toBe(12);
    expect(peak).toBe(2);
    for (const [c, s] of [
      ['users_cluster', sb.u1],
      ['users_cluster', sb.u2],
      ['commerce_cluster', sb.c1],
    ] as const) {
      expect((await sb.history(c, s)).map((r) => r.version.slice(-2))).toEqual(['m1', 'm2', 'm3', 'm4']);
    }
  });

  it('batchSize locks and migrates targets in waves', async () => {
    const mm = sb.manager({ batchSize: 1 });
    mm.addMigration(create('20240101000001_a', [sb.u1, sb.u2, sb.c1], 'a'));
    let held = 0;
    let peak = 0;
    mm.on('lockAcquired', () => (peak = Math.max(peak, ++held)));
    mm.on('lockReleased', () => held--);
    const res = await mm.migrate({ parallel: true });
    expect(res.applied).toBe(3);
    expect(peak).toBe(1);
    const wide = sb.manager({ batchSize: 10 });
    wide.addMigration(create('20240101000002_b', [sb.u1, sb.u2, sb.c1], 'b'));
    held = 0;
    peak = 0;
    wide.on('lockAcquired', () => (peak = Math.max(peak, ++held)));
    wide.on('lockReleased', () => held--);
    await wide.migrate();
    expect(peak).toBe(3);
  });

  it('uses a supplied primary provider and leaves it open on close()', async () => {
    const pool = new pg.Pool({ ...sb.config.commerce_cluster!.primary, max: 3 });
    const provider = poolProvider(pool, 'commerce_cluster/primary', { ownsPool: false });
    const mm = new MigrationManager({
      clusters: sb.clusters,
      primary: () => provider,
      migrationsPath: sb.dir,
      controlSchema: sb.controlSchema,
    });
    mm.addMigration(create('20240101000001_a', [sb.c1], 'a'));
    await mm.migrate();
    await mm.close();
    await expect(mm.migrate()).rejects.toMatchObject({ code: 'CLOSED' });
    expect((await pool.query('SELECT 1 AS x')).rows[0].x).toBe(1);
    await pool.end();
  });
});
