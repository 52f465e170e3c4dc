import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MigrationEvent } from '../src/index.js';
import { type Sandbox, sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

describe('migrate on (cluster, schema) targets', () => {
  it('applies ts, js, mjs, cjs and sql files to every target schema, with history and events', async () => {
    await sb.write(
      '20240101000000_create_users.ts',
      `import type { Migration } from '../src/index.js';
const m: Migration = {
  version: '20240101000000_create_users', name: 'create_users', description: 'users table',
  targetSchemas: ['${sb.u1}', '${sb.u2}'],
  async up(ctx) {
    ctx.logger.info('creating in ' + ctx.schema);
    await ctx.query('CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL)');
    await ctx.query('INSERT INTO users (email) VALUES ($1), ($2)', [ctx.schema + '@a', ctx.cluster + '@b']);
  },
  async down(ctx) { await ctx.query('DROP TABLE users'); },
};
export default m;
`,
    );
    await sb.write(
      '20240101000100_add_profiles.js',
      `export default { targetSchemas: ['${sb.u1}'], dependencies: ['20240101000000_create_users'],
  async up(ctx) { await ctx.query('CREATE TABLE profiles (user_id int REFERENCES users(id))'); },
  async down(ctx) { await ctx.query('DROP TABLE profiles'); } };
`,
    );
    await sb.write(
      '20240101000200_orders.mjs',
      `export default { targetSchemas: ['${sb.c1}'], async up(ctx) { await ctx.query('CREATE TABLE orders (id int)'); }, async down(ctx) { await ctx.query('DROP TABLE orders'); } };\n`,
    );
    await sb.write(
      '20240101000300_items.cjs',
      `module.exports = { targetSchemas: ['${sb.c1}'], async up(ctx) { await ctx.query('CREATE TABLE items (id int)'); } };\n`,
    );
    await sb.write(
      '20240101000400_tags.sql',
      `-- pgm:targetSchemas ${sb.u2},${sb.c1}\r\n-- up\r\nCREATE TABLE tags (id int);\r\nCREATE TABLE tag_links (id int);\r\n-- down\r\nDROP TABLE tag_links; DROP TABLE tags;\r\n`,
    );
    const lines: string[] = [];
    const mm = sb.manager({ logger: { info: (m) => lines.push(m), warn: () => {}, error: () => {} } });
    const started: MigrationEvent[] = [];
    const completed: Array<MigrationEvent & { duration: number }> = [];
    mm.on('migrationStarted', (e) => started.push(e));
    mm.on('migrationCompleted', (e) => completed.push(e));

    const res = await mm.migrate();
    expect(res.applied).toBe(7);
    expect(res.failed).toBe(0);
    expect(res.steps.map((s) => `${s.version.slice(10, 12)}:${s.schema}`)).toEqual([
      `00:${sb.u1}`,
      `00:${sb.u2}`,
      `01:${sb.u1}`,
      `02:${sb.c1}`,
      `03:${sb.c1}`,
      `04:${sb.u2}`,
      `04:${sb.c1}`,
    ]);
    expect(started).toHaveLength(7);
    expect(completed.every((e) => typeof e.duration === 'number' && e.duration >= 0)).toBe(true);
    expect(completed[0]).toMatchObject({
      name: 'create_users',
      schema: sb.u1,
      cluster: 'users_cluster',
      direction: 'up',
    });
    expect(lines.some((l) => l.includes(`creating in ${sb.u1}`))).toBe(true);

    expect(await sb.tables('users_cluster', sb.u1)).toEqual(['profiles', 'users']);
    expect(await sb.tables('users_cluster', sb.u2)).toEqual(['tag_links', 'tags', 'users']);
    expect(await sb.tables('commerce_cluster', sb.c1)).toEqual(['items', 'orders', 'tag_links', 'tags']);
    const rows = await sb.admin.users_cluster.query(`SELECT email FROM "${sb.u2}".users ORDER BY id`);
    expect(rows.rows.map((r) => r.email)).toEqual([`${sb.u2}@a`, 'users_cluster@b']);
    const h = await sb.history('users_cluster', sb.u1);
    expect(h.map((r) => r.version)).toEqual(['20240101000000_create_users', '20240101000100_add_profiles']);
    expect(h[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);

    const status = await mm.getStatus();
    expect(status.pendingMigrations).toBe(0);
    expect(status.appliedMigrations).toBe(7);
    expect(status.bySchema[sb.u1]).toMatchObject({
      applied: 2,
      pending: 0,
      lastApplied: '20240101000100_add_profiles',
    });
    expect(status.byCluster.commerce_cluster).toEqual({ applied: 3, pending: 0 });

    // Running again applies nothing.
    const again = await mm.migrate();
    expect(again.steps).toHaveLength(0);
  });
});
