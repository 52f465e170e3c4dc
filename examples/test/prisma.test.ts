// Prisma ORM 7 (@prisma/adapter-pg) over pgm.pool() against the shared topology (issue 17, item 2):
// every statement's node is checked through queryExecuted. The client is generated first when
// missing (`pnpm run prisma:generate`, no engine binaries).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { waitForReplicas } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ormHarness } from './orm-harness.js';

const h = ormHarness('pr');
const { shared, users: US, commerce: CS } = h;
const recorded = h.recorded;
let example: typeof import('../orm/prisma.js');
let db: import('../orm/prisma.js').Db;
let ids: { ada: number; bob: number };

/** `prisma generate` as `pnpm run prisma:generate` does it (no schema engine download). */
function generate() {
  const dir = fileURLToPath(new URL('..', import.meta.url));
  if (existsSync(`${dir}orm/prisma/generated/client.ts`)) return;
  const cli = createRequire(import.meta.url).resolve('prisma/build/index.js');
  execFileSync(process.execPath, [cli, 'generate', '--schema', 'orm/prisma/schema.prisma'], {
    cwd: dir,
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true', CHECKPOINT_DISABLE: '1' },
    stdio: 'pipe',
  });
}

beforeAll(async () => {
  generate();
  example = await import('../orm/prisma.js');
  await h.start(`CREATE TABLE ${CS}.orders (id serial PRIMARY KEY, account_id int NOT NULL, total int NOT NULL)`);
  await h.admin.query(example.ddl(US));
  await waitForReplicas(shared.users_cluster!);
  db = example.connect(h.pgm, US);
});

afterAll(async () => {
  await db?.$disconnect();
  await h.stop();
});

describe('Prisma ORM over pgm.pool() (@prisma/adapter-pg)', () => {
  it('a nested create runs BEGIN, the inserts and COMMIT on the primary; an update on the primary', async () => {
    const r = await recorded(() => example.write(db));
    expect(r.error).toBeUndefined();
    ids = r.value!;
    const lines = r.statements.map((s) => `${s.cluster}/${s.node} ${s.sql.split(' ')[0]!.toUpperCase()}`);
    expect(lines.length).toBeGreaterThanOrEqual(6);
    for (const s of r.statements) expect(s).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    expect(lines[0]).toBe('users_cluster/primary BEGIN');
    expect(lines).toContain('users_cluster/primary COMMIT');
    expect(r.statements.filter((s) => /^INSERT INTO "pr_u_/.test(s.sql))).toHaveLength(3);
    expect(r.statements.some((s) => /^UPDATE "pr_u_/.test(s.sql))).toBe(true);
    await waitForReplicas(shared.users_cluster!);
  });

  it('findMany with include and count run on replicas, with the right rows', async () => {
    const r = await recorded(() => example.read(db));
    expect(r.error).toBeUndefined();
    expect(r.value!.accounts.map((a) => [a.name, a.posts.map((p) => p.title)])).toEqual([
      ['Ada Lovelace', ['Notes on the analytical engine', 'Bernoulli numbers']],
      ['Bob', []],
    ]);
    expect(r.value!.posts).toBe(2);
    expect(r.statements.length).toBeGreaterThanOrEqual(2);
    for (const s of r.statements) {
      expect(s).toMatchObject({ cluster: 'users_cluster', role: 'replica' });
      expect(s.node).toMatch(/^replica-\d$/);
    }
  });

  it('$transaction(fn) runs BEGIN ... COMMIT on one session of the primary', async () => {
    const r = await recorded(() => example.transfer(db, ids.ada, ids.bob));
    expect(r.error).toBeUndefined();
    expect(r.value!.nowOwned).toBe(1);
    const verbs = r.statements.map((s) => s.sql.split(' ')[0]!.toUpperCase());
    expect(verbs[0]).toBe('BEGIN');
    expect(verbs.at(-1)).toBe('COMMIT');
    expect(verbs).toContain('UPDATE');
    for (const s of r.statements) expect(s).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    expect(new Set(r.statements.map((s) => s.tx)).size).toBe(1);
  });

  it('a transaction touching a second cluster is refused naming both clusters and rolled back whole', async () => {
    const before = (await h.admin.query(`SELECT count(*)::int AS n FROM ${US}.posts`)).rows[0].n;
    const r = await recorded(() => example.crossCluster(db, CS, ids.ada));
    expect(String((r.error as Error).message)).toMatch(/"users_cluster".*"commerce_cluster".*withTransaction/s);
    const lines = r.statements.map((s) => `${s.cluster}/${s.node} ${s.sql.split(' ')[0]!.toUpperCase()}`);
    expect(lines[0]).toBe('users_cluster/primary BEGIN');
    expect(lines.at(-1)).toBe('users_cluster/primary ROLLBACK');
    expect(lines.every((l) => l.startsWith('users_cluster/primary'))).toBe(true);
    expect((await h.admin.query(`SELECT count(*)::int AS n FROM ${US}.posts`)).rows[0].n).toBe(before);
  });
});
