// Drizzle ORM over pgm.pool() against the shared topology (issue 17, item 2): every statement's
// node is checked through queryExecuted.
import { waitForReplicas } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as example from '../orm/drizzle.js';
import { ormHarness } from './orm-harness.js';

const h = ormHarness('dz');
const { shared, users: US, commerce: CS } = h;
const recorded = h.recorded;
const t = example.tables(US, CS);
let db: example.Db;
let ids: { ada: number; bob: number; cteInserted: number };

beforeAll(async () => {
  await h.start();
  db = example.connect(h.pgm, t);
  const ddl = await recorded(() => example.createTables(db, US, CS));
  expect(ddl.error).toBeUndefined();
  expect(ddl.statements.map((s) => `${s.cluster}/${s.node}`)).toEqual([
    'users_cluster/primary',
    'commerce_cluster/primary',
  ]);
});

afterAll(async () => {
  await h.stop();
});

describe('Drizzle ORM over pgm.pool()', () => {
  it('inserts, updates and a writing CTE run on the primary of the cluster owning their tables', async () => {
    const r = await recorded(() => example.write(db, t));
    expect(r.error).toBeUndefined();
    ids = r.value!;
    expect(ids.cteInserted).toBe(1);
    // 2 account inserts, the posts insert, the update, the CTE, the order
    expect(r.statements).toHaveLength(6);
    const cte = r.statements.find((s) => /^with "inserted"/i.test(s.sql));
    expect(cte).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    for (const s of r.statements.slice(0, 5)) expect(s).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    expect(r.statements[5]).toMatchObject({ cluster: 'commerce_cluster', node: 'primary' });
    expect(r.statements[5]!.sql).toMatch(/^insert into "dz_c_/);
    await waitForReplicas(shared.users_cluster!);
  });

  it('selects, a join read as arrays and a relational query run on replicas, with the right rows', async () => {
    const r = await recorded(() => example.read(db, t));
    expect(r.error).toBeUndefined();
    const v = r.value!;
    expect(v.accounts.map((a) => a.name)).toEqual(['Ada Lovelace', 'Bob']);
    expect(v.joined.map((j) => [j.account, j.post])).toEqual([
      ['Ada Lovelace', 'Notes on the analytical engine'],
      ['Ada Lovelace', 'Bernoulli numbers'],
      ['Bob', 'Hello'],
    ]);
    expect(v.joined[0]!.accountId).toBe(ids.ada);
    expect(v.withPosts.map((a) => [a.name, a.posts.map((p) => p.title)])).toEqual([
      ['Ada Lovelace', ['Notes on the analytical engine', 'Bernoulli numbers']],
      ['Bob', ['Hello']],
    ]);
    expect(v.orders).toEqual([{ id: expect.any(Number), accountId: ids.ada, total: 42 }]);
    expect(r.statements).toHaveLength(4);
    for (const s of r.statements.slice(0, 3)) {
      expect(s).toMatchObject({ cluster: 'users_cluster', role: 'replica' });
      expect(s.node).toMatch(/^replica-\d$/);
    }
    // commerce_cluster has no replica: its primary serves the read.
    expect(r.statements[3]).toMatchObject({ cluster: 'commerce_cluster', node: 'primary' });
  });

  it('db.transaction() runs BEGIN ... COMMIT on one session of the primary', async () => {
    const r = await recorded(() => example.transfer(db, t, ids.ada, ids.bob));
    expect(r.error).toBeUndefined();
    expect(r.value!.nowOwned).toBe(2);
    expect(r.statements.map((s) => s.sql.split(' ')[0]!.toLowerCase())).toEqual([
      'begin',
      'select',
      'update',
      'select',
      'commit',
    ]);
    for (const s of r.statements) expect(s).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    expect(new Set(r.statements.map((s) => s.tx)).size).toBe(1);
    expect(r.statements[0]!.tx).toEqual(expect.any(String));
  });

  it('a transaction touching a second cluster is refused naming both clusters and rolled back whole', async () => {
    const before = (await h.admin.query(`SELECT count(*)::int AS n FROM ${US}.posts`)).rows[0].n;
    const r = await recorded(() => example.crossCluster(db, t, ids.ada));
    const cause = (r.error as { cause?: { code?: string; message: string } }).cause ?? (r.error as never);
    expect(cause.code).toBe('CROSS_CLUSTER_STATEMENT');
    expect(cause.message).toMatch(/"users_cluster".*"commerce_cluster".*withTransaction/s);
    expect(r.statements.map((s) => `${s.cluster}/${s.node} ${s.sql.split(' ')[0]!.toLowerCase()}`)).toEqual([
      'users_cluster/primary begin',
      'users_cluster/primary insert',
      'users_cluster/primary rollback',
    ]);
    expect((await h.admin.query(`SELECT count(*)::int AS n FROM ${US}.posts`)).rows[0].n).toBe(before);
  });
});
