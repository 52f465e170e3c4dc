import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Migration } from '../src/index.js';
import { type Sandbox, sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

const table = (version: string, schemas: string[], name: string, extra: Partial<Migration> = {}): Migration => ({
  version,
  name,
  targetSchemas: schemas,
  async up(ctx) {
    await ctx.query(`CREATE TABLE ${name} (id int)`);
  },
  async down(ctx) {
    await ctx.query(`DROP TABLE ${name}`);
  },
  ...extra,
});

describe('rollback', () => {
  it('undoes in reverse order of application: steps, targetVersion, targetSchemas, dryRun', async () => {
    const mm = sb.manager();
    mm.addMigration(table('20240101000001_a', [sb.u1, sb.u2], 'a'));
    mm.addMigration(table('20240101000002_b', [sb.u1, sb.u2], 'b'));
    mm.addMigration(table('20240101000003_c', [sb.u1, sb.u2], 'c'));
    await mm.migrate();

    const dry = await mm.rollback({ steps: 2, dryRun: true });
    expect(dry.steps.map((s) => s.status)).toEqual(['planned', 'planned', 'planned', 'planned']);
    expect(await sb.tables('users_cluster', sb.u1)).toEqual(['a', 'b', 'c']);

    const one = await mm.rollback({ steps: 1, targetSchemas: [sb.u1] });
    expect(one.steps.map((s) => `${s.name}@${s.schema}:${s.status}`)).toEqual([`c@${sb.u1}:rolledBack`]);
    expect(await sb.tables('users_cluster', sb.u1)).toEqual(['a', 'b']);
    expect(await sb.tables('users_cluster', sb.u2)).toEqual(['a', 'b', 'c']);

    const order: string[] = [];
    mm.on('migrationStarted', (e) => order.push(`${e.name}@${e.schema === sb.u1 ? 'u1' : 'u2'}:${e.direction}`));
    await mm.rollback({ targetVersion: '20240101000001' });
    expect(order).toEqual(['c@u2:down', 'b@u2:down', 'b@u1:down']); // newest application first
    expect(await sb.tables('users_cluster', sb.u2)).toEqual(['a']);
    expect((await sb.history('users_cluster', sb.u2)).map((r) => r.version)).toEqual(['20240101000001_a']);
    const status = await mm.getStatus({ targetSchemas: [sb.u1, sb.u2] });
    expect(status.bySchema[sb.u1]).toMatchObject({ applied: 1, pending: 2, lastApplied: '20240101000001_a' });
  });

  it('a migration without down stops the rollback unless force', async () => {
    const mm = sb.manager();
    mm.addMigration(table('20240101000001_a', [sb.c1], 'a'));
    mm.addMigration({
      version: '20240101000002_irreversible',
      targetSchemas: [sb.c1],
      up: (ctx) => void ctx.query('SELECT 1'),
    });
    await mm.migrate();
    await expect(mm.rollback({ steps: 2 })).rejects.toMatchObject({
      code: 'MIGRATION_NOT_REVERSIBLE',
      message: expect.stringMatching(/20240101000002_irreversible.*no down\(\).*force: true/),
    });
    expect(await sb.history('commerce_cluster', sb.c1)).toHaveLength(2); // nothing ran
    const forced = await mm.rollback({ steps: 2, force: true });
    expect(forced.steps.map((s) => s.status)).toEqual(['rolledBack', 'rolledBack']);
    expect(forced.steps[0]!.reason).toMatch(/force/);
    expect(await sb.tables('commerce_cluster', sb.c1)).toEqual([]);
    expect(await sb.history('commerce_cluster', sb.c1)).toHaveLength(0);
  });

  it('a failing down keeps the migration applied and throws with the results', async () => {
    const mm = sb.manager();
    mm.addMigration(
      table('20240101000001_a', [sb.u1], 'a', {
        async down(ctx) {
          await ctx.query('DROP TABLE a');
          await ctx.query('DROP TABLE missing');
        },
      }),
    );
    await mm.migrate();
    const err = await mm.rollback().catch((e) => e);
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.result.steps[0].status).toBe('failed');
    expect(await sb.tables('users_cluster', sb.u1)).toEqual(['a']);
    expect(await sb.history('users_cluster', sb.u1)).toHaveLength(1);
  });
});
