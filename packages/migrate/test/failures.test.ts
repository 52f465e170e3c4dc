import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigrationError } from '../src/index.js';
import { type Sandbox, sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

const ok = (version: string, schemas: string[], table: string) => ({
  version,
  targetSchemas: schemas,
  async up(ctx: { query: (s: string) => Promise<unknown> }) {
    await ctx.query(`CREATE TABLE ${table} (id int)`);
  },
});

describe('a failing migration', () => {
  it('leaves its target unchanged and stops the run (no continueOnError)', async () => {
    const mm = sb.manager();
    mm.addMigration(ok('20240101000001_a', [sb.u1, sb.c1], 'a'));
    mm.addMigration({
      version: '20240101000002_bad',
      targetSchemas: [sb.u1, sb.c1],
      async up(ctx) {
        await ctx.query('CREATE TABLE half_done (id int)');
        await ctx.query('INSERT INTO a VALUES (1)');
        await ctx.query('SELECT * FROM no_such_table');
      },
    });
    mm.addMigration(ok('20240101000003_c', [sb.u1, sb.c1], 'c'));
    const failed: Array<{ name: string; error: Error; duration: number }> = [];
    mm.on('migrationFailed', (e) => failed.push(e));

    const err = await mm.migrate().catch((e) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.sqlState).toBe('42P01');
    expect(err.message).toContain(`users_cluster/${sb.u1}`);
    const steps = err.result.steps.map(
      (s: { version: string; schema: string; status: string }) => `${s.version.slice(15)}@${s.schema}:${s.status}`,
    );
    expect(steps).toEqual([
      `a@${sb.u1}:applied`,
      `a@${sb.c1}:applied`,
      `bad@${sb.u1}:failed`,
      `bad@${sb.c1}:skipped`,
      `c@${sb.u1}:skipped`,
      `c@${sb.c1}:skipped`,
    ]);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.error.message).toMatch(/no_such_table/);
    expect(await sb.tables('users_cluster', sb.u1)).toEqual(['a']); // no half_done, no c
    const rows = await sb.admin.users_cluster.query(`SELECT count(*)::int AS n FROM "${sb.u1}".a`);
    expect(rows.rows[0].n).toBe(0);
    expect((await sb.history('users_cluster', sb.u1)).map((r) => r.version)).toEqual(['20240101000001_a']);
    expect(await sb.tables('commerce_cluster', sb.c1)).toEqual(['a']);
  });

  it('with continueOnError, other targets go on and the error still reports the failure', async () => {
    const mm = sb.manager();
    mm.addMigration({
      version: '20240101000001_fails_on_u1',
      targetSchemas: [sb.u1, sb.c1],
      async up(ctx) {
        if (ctx.schema === sb.u1) throw new Error('refused here');
        await ctx.query('CREATE TABLE x (id int)');
      },
    });
    mm.addMigration(ok('20240101000002_y', [sb.u1, sb.c1], 'y'));
    const err = await mm.migrate({ continueOnError: true }).catch((e) => e);
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.result.applied).toBe(2);
    expect(
      err.result.steps.find((s: { schema: string; version: string }) => s.schema === sb.u1 && s.version.endsWith('_y'))
        .status,
    ).toBe('skipped');
    expect(await sb.tables('commerce_cluster', sb.c1)).toEqual(['x', 'y']);
    expect(await sb.tables('users_cluster', sb.u1)).toEqual([]);
  });

  it('supports the documented BEGIN/COMMIT/ROLLBACK pattern inside up()', async () => {
    const mm = sb.manager();
    mm.addMigration({
      version: '20240101000001_safety',
      targetSchemas: [sb.u1],
      async up(ctx) {
        await ctx.query('CREATE TABLE kept (id int)');
        await ctx.query('BEGIN');
        try {
          await ctx.query('CREATE TABLE undone (id int)');
          await ctx.query('SELECT 1/0');
          await ctx.query('COMMIT');
        } catch {
          await ctx.query('ROLLBACK');
        }
        await ctx.query('BEGIN');
        await ctx.query('CREATE TABLE committed (id int)');
        await ctx.query('COMMIT');
      },
    });
    await mm.migrate();
    expect(await sb.tables('users_cluster', sb.u1)).toEqual(['committed', 'kept']);
    expect(await sb.history('users_cluster', sb.u1)).toHaveLength(1);
  });
});
