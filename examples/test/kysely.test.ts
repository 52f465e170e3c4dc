// Kysely over pgm.pool() against the shared topology (issue 17, item 2): every statement's
// node is checked through queryExecuted.
import { waitForReplicas } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as example from '../orm/kysely.js';
import { ormHarness } from './orm-harness.js';

const h = ormHarness('ky');
const { shared, users: US, commerce: CS } = h;
const recorded = h.recorded;
let db: example.Db;
let ids: { ada: number; bob: number; cteInserted: number };

beforeAll(async () => {
  await h.start();
  db = example.connect(h.pgm);
  const ddl = await recorded(() => example.createTables(db, US, CS));
  expect(ddl.error).toBeUndefined();
  expect(ddl.statements.map((s) => `${s.cluster}/${s.node}`)).toEqual([
    'users_cluster/primary',
    'users_cluster/primary',
    'commerce_cluster/primary',
  ]);
});

afterAll(async () => {
  await db?.destroy();
  await h.stop();
});

describe('Kysely over pgm.pool()', () => {
  it('inserts, updates and a writing CTE run on the primary of the cluster owning their tables', async () => {
    const r = await recorded(() => example.write(db, US, CS));
    expect(r.error).toBeUndefined();
    ids = r.value!;
    expect(ids.cteInserted).toBe(1);
    // 2 account inserts, the posts insert, the update, the CTE, the order
    expect(r.statements).toHaveLength(6);
    const cte = r.statements.find((s) => /^with "inserted"/i.test(s.sql));
    expect(cte?.sql).toMatch(/insert into/);
    expect(cte).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    for (const s of r.statements.slice(0, 5)) expect(s).toMatchObject({ cluster: 'users_cluster', node: 'primary' });
    expect(r.statements[5]).toMatchObject({ cluster: 'commerce_cluster', node: 'primary' });
    expect(r.statements[5]!.sql).toMatch(/^insert into "ky_c_/);
    await waitForReplicas(shared.users_cluster!);
  });

  it('selects, a join and a raw sql`` read run on replicas, with the right rows', async () => {
    const r = await recorded(() => example.read(db, US, CS));
    expect(r.error).toBeUndefined();
    const v = r.value!;
    expect(v.accounts.map((a) => a.name)).toEqual(['Ada Lovelace', 'Bob']);
    expect(v.joined).toEqual([
      { account: 'Ada Lovelace', post: 'Notes on the analytical engine' },
      { account: 'Ada Lovelace', post: 'Bernoulli numbers' },
      { account: 'Bob', post: 'Hello' },
    ]);
    expect(v.orders).toEqual([{ id: expect.any(Number), account_id: ids.ada, total: 42 }]);
    expect(v.posts).toBe(3);
    expect(r.statements).toHaveLength(4);
    for (const s of [r.statements[0]!, r.statements[1]!, r.statements[3]!]) {
      expect(s).toMatchObject({ cluster: 'users_cluster', role: 'replica' });
      expect(s.node).toMatch(/^replica-\d$/);
    }
    // commerce_cluster has no replica: its primary serves the read.
    expect(r.statements[2]).toMatchObject({ cluster: 'commerce_cluster', node: 'primary' });
  });

  it('db.transaction() runs BEGIN ... COMMIT on one session of the primary', async () => {
    const r = await recorded(() => example.transfer(db, US, ids.ada, ids.bob));
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
    const r = await recorded(() => example.crossCluster(db, US, CS, ids.ada));
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
