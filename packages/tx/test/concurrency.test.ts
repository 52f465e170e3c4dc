import { uniqueName } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Harness, harness } from './helpers.js';

const topo = inject('pgmTopology');
const U = uniqueName('txcu');
const O = uniqueName('txco');
const ACCOUNTS = 10;
const START = 1000;
const failInHook = new Set<string>();
let h: Harness;

// Deterministic pseudo-random numbers, so a failure can be replayed.
function rng(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
}

beforeAll(async () => {
  h = harness(
    { users_cluster: topo.config.users_cluster!.primary, commerce_cluster: topo.config.commerce_cluster!.primary },
    { users_cluster: [U], commerce_cluster: [O] },
    {
      hooks: {
        afterPrepare: ({ id }) => {
          if (failInHook.has(id)) throw new Error('injected failure after PREPARE');
        },
      },
    },
    12,
  );
  for (const [cluster, schema] of [
    ['users_cluster', U],
    ['commerce_cluster', O],
  ] as const) {
    const p = h.pools[cluster]!;
    await p.query(`CREATE SCHEMA "${schema}"`);
    await p.query(`CREATE TABLE "${schema}".accounts (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0))`);
    await p.query(`INSERT INTO "${schema}".accounts SELECT g, ${START} FROM generate_series(1, ${ACCOUNTS}) g`);
    await p.query(`CREATE TABLE "${schema}".transfers (id int PRIMARY KEY)`);
    await p.query(`CREATE TABLE "${schema}".marker (k int, UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)`);
  }
  await h.tm.preflight();
});

afterAll(async () => {
  await h.pools.users_cluster!.query(`DROP SCHEMA IF EXISTS "${U}" CASCADE`);
  await h.pools.commerce_cluster!.query(`DROP SCHEMA IF EXISTS "${O}" CASCADE`);
  await h.close();
});

describe('concurrent cross-cluster transfers', () => {
  it('keeps the total balance across both clusters with 200 transfers and injected failures', async () => {
    const rand = rng(42);
    const kinds = { ok: 0, throw: 0, prepare: 0, hook: 0 };
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => {
        const from = 1 + Math.floor(rand() * ACCOUNTS);
        const to = 1 + Math.floor(rand() * ACCOUNTS);
        const amount = 1 + Math.floor(rand() * 300); // large enough that some hit the CHECK constraint
        const direction = rand() < 0.5 ? 1 : -1; // +1: users -> commerce
        const r = rand();
        const kind = r < 0.1 ? 'throw' : r < 0.2 ? 'prepare' : r < 0.3 ? 'hook' : 'ok';
        kinds[kind]++;
        return h.tm.withTransaction([U, O], async (tx) => {
          if (kind === 'hook') failInHook.add(tx.id);
          // Always users_cluster first: connections are taken in one order, so pools cannot deadlock.
          await tx.query('UPDATE accounts SET balance = balance - $2 WHERE id = $1', [from, amount * direction], {
            schema: U,
          });
          await tx.query('INSERT INTO transfers VALUES ($1)', [i], { schema: U });
          await tx.query('UPDATE accounts SET balance = balance + $2 WHERE id = $1', [to, amount * direction], {
            schema: O,
          });
          await tx.query('INSERT INTO transfers VALUES ($1)', [i], { schema: O });
          if (kind === 'prepare') await tx.query('INSERT INTO marker VALUES (1), (1)', [], { schema: O });
          if (kind === 'throw') throw new Error('injected failure in the callback');
          return i;
        });
      }),
    );
    const committed = outcomes
      .filter((o) => o.status === 'fulfilled')
      .map((o) => (o as PromiseFulfilledResult<number>).value);
    const total = async (cluster: string, schema: string) =>
      Number((await h.pools[cluster]!.query(`SELECT sum(balance)::int AS s FROM "${schema}".accounts`)).rows[0].s);
    const ids = async (cluster: string, schema: string) =>
      (await h.pools[cluster]!.query<{ id: number }>(`SELECT id FROM "${schema}".transfers ORDER BY id`)).rows.map(
        (r) => r.id,
      );

    expect((await total('users_cluster', U)) + (await total('commerce_cluster', O))).toBe(2 * ACCOUNTS * START);
    // Atomicity per transfer: exactly the committed transfers are on both sides.
    expect(await ids('users_cluster', U)).toEqual(committed.sort((a, b) => a - b));
    expect(await ids('commerce_cluster', O)).toEqual(committed);
    expect(committed.length).toBeGreaterThan(0);
    expect(committed.length).toBeLessThanOrEqual(kinds.ok);
    expect(outcomes.length - committed.length).toBeGreaterThanOrEqual(kinds.throw + kinds.prepare + kinds.hook);
    expect(await h.prepared('users_cluster')).toEqual([]);
    expect(await h.prepared('commerce_cluster')).toEqual([]);
    expect(h.tm.metrics().active).toBe(0);
  });
});
