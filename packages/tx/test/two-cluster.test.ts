import { isPgmError, PgmError } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import type { StatementRouteRequest, TransactionCommittedEvent, TransactionRolledBackEvent } from '../src/index.js';
import { type Harness, harness } from './helpers.js';

const topo = inject('pgmTopology');
const U = uniqueName('txu');
const O = uniqueName('txo');
let h: Harness;
let prepares = 0;
const committed: TransactionCommittedEvent[] = [];
const rolledBack: TransactionRolledBackEvent[] = [];

const count = async (cluster: string, schema: string, table = 'items') =>
  Number((await h.pools[cluster]!.query(`SELECT count(*)::int AS n FROM "${schema}".${table}`)).rows[0].n);

const has = async (cluster: string, schema: string, id: number) =>
  (await h.pools[cluster]!.query(`SELECT 1 FROM "${schema}".items WHERE id = $1`, [id])).rowCount === 1;

beforeAll(async () => {
  h = harness(
    { users_cluster: topo.config.users_cluster!.primary, commerce_cluster: topo.config.commerce_cluster!.primary },
    { users_cluster: [U], commerce_cluster: [O] },
    { hooks: { afterPrepare: () => void prepares++ } },
  );
  for (const [cluster, schema] of [
    ['users_cluster', U],
    ['commerce_cluster', O],
  ] as const) {
    await h.pools[cluster]!.query(`CREATE SCHEMA "${schema}"`);
    await h.pools[cluster]!.query(`CREATE TABLE "${schema}".items (id int PRIMARY KEY, note text)`);
    await h.pools[cluster]!.query(
      `CREATE TABLE "${schema}".uniq (k int, CONSTRAINT uniq_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)`,
    );
  }
  h.tm.on('transactionCommitted', (e) => committed.push(e));
  h.tm.on('transactionRolledBack', (e) => rolledBack.push(e));
  await h.tm.preflight();
});

afterAll(async () => {
  await h.pools.users_cluster!.query(`DROP SCHEMA IF EXISTS "${U}" CASCADE`);
  await h.pools.commerce_cluster!.query(`DROP SCHEMA IF EXISTS "${O}" CASCADE`);
  await h.close();
});

describe('cross-cluster transactions on two clusters', () => {
  it('commits on both clusters with two-phase commit', async () => {
    const before = prepares;
    const result = await h.tm.withTransaction([U, O], async (tx) => {
      await tx.query('INSERT INTO items VALUES ($1, $2)', [1, 'user side'], { schema: U });
      const r = await tx.query<{ id: number }>('INSERT INTO items VALUES ($1, $2) RETURNING id', [1, 'order side'], {
        schema: O,
      });
      return r.rows[0]!.id;
    });
    expect(result).toBe(1);
    expect(await count('users_cluster', U)).toBe(1);
    expect(await count('commerce_cluster', O)).toBe(1);
    expect(prepares).toBe(before + 1);
    const e = committed.at(-1)!;
    expect(e.twoPhase).toBe(true);
    expect(e.clusters.sort()).toEqual(['commerce_cluster', 'users_cluster']);
    expect(e.statements.map((s) => [s.clusterId, s.schema])).toEqual([
      ['users_cluster', U],
      ['commerce_cluster', O],
    ]);
    expect(e.pendingRecovery).toEqual([]);
    expect(await h.prepared('users_cluster')).toEqual([]);
    expect(await h.prepared('commerce_cluster')).toEqual([]);
    // The decision row is in the coordinator's table.
    const d = await h.pools.users_cluster!.query(
      `SELECT decision FROM "${h.decisionSchema}".decisions WHERE txid = $1`,
      [e.id],
    );
    expect(d.rows).toEqual([{ decision: 'commit' }]);
  });

  it('rolls back both clusters and rethrows the callback error as is', async () => {
    const boom = new Error('boom in callback');
    const err = await h.tm
      .withTransaction([U, O], async (tx) => {
        await tx.query('INSERT INTO items VALUES (2, $1)', ['u'], { schema: U });
        await tx.query('INSERT INTO items VALUES (2, $1)', ['o'], { schema: O });
        throw boom;
      })
      .catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(await count('users_cluster', U)).toBe(1);
    expect(await count('commerce_cluster', O)).toBe(1);
    expect(rolledBack.at(-1)!.reason).toBe('error');
  });

  it('rolls back every participant when one fails PREPARE (deferred constraint)', async () => {
    const err = await h.tm
      .withTransaction([U, O], async (tx) => {
        await tx.query('INSERT INTO items VALUES (3, $1)', ['u'], { schema: U });
        await tx.query('INSERT INTO uniq VALUES (7), (7)', [], { schema: O }); // checked only at PREPARE
      })
      .catch((e: unknown) => e);
    expect(isPgmError(err, 'TRANSACTION_FAILED')).toBe(true);
    expect((err as PgmError).sqlState).toBe('23505');
    expect((err as PgmError).clusterId).toBe('commerce_cluster');
    expect(await count('users_cluster', U)).toBe(1);
    expect(await count('commerce_cluster', O, 'uniq')).toBe(0);
    expect(await h.prepared('users_cluster')).toEqual([]);
    expect(rolledBack.at(-1)!.reason).toBe('prepare_failed');
  });

  it("rolls back every participant when the coordinator cluster's own COMMIT fails (deferred constraint)", async () => {
    // users_cluster is the coordinator cluster: its transaction is not prepared, its COMMIT is the decision.
    const err = await h.tm
      .withTransaction([U, O], async (tx) => {
        await tx.query('INSERT INTO uniq VALUES (8), (8)', [], { schema: U }); // checked only at COMMIT
        await tx.query('INSERT INTO items VALUES (8, $1)', ['o'], { schema: O });
      })
      .catch((e: unknown) => e);
    expect(isPgmError(err, 'TRANSACTION_FAILED')).toBe(true);
    expect((err as PgmError).sqlState).toBe('23505');
    expect((err as PgmError).clusterId).toBe('users_cluster');
    expect(rolledBack.at(-1)!.reason).toBe('prepare_failed');
    expect(await has('commerce_cluster', O, 8)).toBe(false);
    expect(await count('users_cluster', U, 'uniq')).toBe(0);
    expect(await h.prepared('commerce_cluster')).toEqual([]);
  });

  it('sends a first statement without parameters as it is: several statements in one text work', async () => {
    const res = await h.tm.withTransaction([U, O], async (tx) => {
      const many = (await tx.query("INSERT INTO items VALUES (9, 'a'); SELECT 9 AS n", [], {
        schema: U,
      })) as unknown as { command: string }[];
      const one = await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM items WHERE id = $1', [9], {
        schema: U,
      });
      await tx.query("INSERT INTO items VALUES (9, 'b')", undefined, { schema: O });
      return { commands: many.map((r) => r.command), n: one.rows[0]!.n };
    });
    expect(res).toEqual({ commands: ['INSERT', 'SELECT'], n: 1 });
    expect(await has('users_cluster', U, 9)).toBe(true);
    expect(await has('commerce_cluster', O, 9)).toBe(true);
    await h.pools.users_cluster!.query(`DELETE FROM "${U}".items WHERE id = 9`);
    await h.pools.commerce_cluster!.query(`DELETE FROM "${O}".items WHERE id = 9`);
  });

  it('uses a plain BEGIN/COMMIT when one cluster takes part, and skips PREPARE for read-only participants', async () => {
    const before = prepares;
    await h.tm.withTransaction([U], async (tx) => {
      await tx.query('INSERT INTO items VALUES (4, $1)', ['single']); // the only schema: no option needed
    });
    expect(committed.at(-1)!.twoPhase).toBe(false);
    await h.tm.withTransaction([U, O], async (tx) => {
      await tx.query('SELECT count(*) FROM items', [], { schema: U });
      await tx.query('INSERT INTO items VALUES (4, $1)', ['one writer'], { schema: O });
    });
    expect(committed.at(-1)!.twoPhase).toBe(false);
    expect(committed.at(-1)!.clusters.length).toBe(2);
    expect(prepares).toBe(before);
    expect(await count('users_cluster', U)).toBe(2);
    expect(await count('commerce_cluster', O)).toBe(2);
  });

  it('gives clear errors for a missing, foreign or unknown schema', async () => {
    const missing = await h.tm.withTransaction([U, O], (tx) => tx.query('SELECT 1')).catch((e: unknown) => e);
    expect(isPgmError(missing, 'INVALID_ARGUMENT')).toBe(true);
    expect((missing as Error).message).toContain(U);
    const foreign = await h.tm
      .withTransaction([U], (tx) => tx.query('SELECT 1', [], { schema: O }))
      .catch((e: unknown) => e);
    expect(isPgmError(foreign, 'INVALID_ARGUMENT')).toBe(true);
    expect((foreign as Error).message).toMatch(/not part of this transaction/);
    const unknown = await h.tm.withTransaction(['nope_schema'], async () => 1).catch((e: unknown) => e);
    expect(isPgmError(unknown, 'UNKNOWN_SCHEMA')).toBe(true);
  });

  it('puts the schema on the search_path per statement', async () => {
    const paths = await h.tm.withTransaction([U, O], async (tx) => {
      const a = await tx.query<{ p: string }>('SELECT current_setting($1) AS p', ['search_path'], { schema: U });
      const b = await tx.query<{ p: string }>('SELECT current_setting($1) AS p', ['search_path'], { schema: O });
      return [a.rows[0]!.p, b.rows[0]!.p];
    });
    expect(paths[0]).toContain(U);
    expect(paths[1]).toContain(O);
  });

  it('rolls back to savepoints on every cluster, also on clusters that joined later', async () => {
    await h.tm.withTransaction([U, O], async (tx) => {
      await tx.query('INSERT INTO items VALUES (10, $1)', ['keep'], { schema: U });
      const sp = await tx.savepoint('before_more');
      expect(sp).toBe('before_more');
      await tx.query('INSERT INTO items VALUES (11, $1)', ['drop'], { schema: U });
      await tx.query('INSERT INTO items VALUES (11, $1)', ['drop'], { schema: O }); // joins after the savepoint
      await tx.query('INSERT INTO items VALUES (10, $1)', ['dup'], { schema: U }).catch(() => undefined); // aborts U
      await tx.rollbackToSavepoint(sp);
      await tx.query('INSERT INTO items VALUES (12, $1)', ['keep'], { schema: O });
      await tx.releaseSavepoint(sp);
    });
    const u = await h.pools.users_cluster!.query(`SELECT id FROM "${U}".items WHERE id >= 10 ORDER BY id`);
    const o = await h.pools.commerce_cluster!.query(`SELECT id FROM "${O}".items WHERE id >= 10 ORDER BY id`);
    expect(u.rows).toEqual([{ id: 10 }]);
    expect(o.rows).toEqual([{ id: 12 }]);
  });

  it('refuses to commit when a failed statement was swallowed without a savepoint rollback', async () => {
    const err = await h.tm
      .withTransaction([U, O], async (tx) => {
        await tx.query('INSERT INTO items VALUES (20, $1)', ['x'], { schema: O });
        await tx.query('SELECT * FROM no_such_table', [], { schema: U }).catch(() => undefined);
      })
      .catch((e: unknown) => e);
    expect(isPgmError(err, 'TRANSACTION_FAILED')).toBe(true);
    expect(await has('commerce_cluster', O, 20)).toBe(false);
  });

  it('applies isolation level and read only to every participant', async () => {
    const levels = await h.tm.withTransaction(
      [U, O],
      async (tx) => {
        const a = await tx.query<{ l: string }>('SHOW transaction_isolation', [], { schema: U });
        const b = await tx.query<{ r: string }>('SHOW transaction_read_only', [], { schema: O });
        return [Object.values(a.rows[0]!)[0], Object.values(b.rows[0]!)[0]];
      },
      { isolationLevel: 'serializable', readOnly: true },
    );
    expect(levels).toEqual(['serializable', 'on']);
    const err = await h.tm
      .withTransaction([O], (tx) => tx.query('INSERT INTO items VALUES (30, $1)', ['ro']), { readOnly: true })
      .catch((e: unknown) => e);
    expect((err as PgmError).sqlState).toBe('25006');
  });

  it('rolls back and cancels a transaction that runs past its timeout', async () => {
    const err = await h.tm
      .withTransaction(
        [U, O],
        async (tx) => {
          await tx.query('INSERT INTO items VALUES (40, $1)', ['late'], { schema: O });
          await tx.query('SELECT pg_sleep(60)', [], { schema: U });
        },
        { timeoutMs: 300 },
      )
      .catch((e: unknown) => e);
    expect(isPgmError(err, 'TRANSACTION_TIMEOUT')).toBe(true);
    expect(rolledBack.at(-1)!.reason).toBe('timeout');
    expect(await has('commerce_cluster', O, 40)).toBe(false);
    // The sleeping statement was cancelled: no backend of ours still sleeps (well before its 60 s;
    // awaited as a condition, since a cancel request lands asynchronously on a busy server).
    await vi.waitFor(
      async () => {
        const sleeping = await h.pools.users_cluster!.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'",
        );
        expect(sleeping.rows[0].n).toBe(0);
      },
      { timeout: 120_000, interval: 50 },
    );
    expect(h.tm.metrics().timedOut).toBe(1);
  });

  it('reports metrics and refuses use after close', async () => {
    const m = h.tm.metrics();
    expect(m.committed).toBeGreaterThanOrEqual(4);
    expect(m.twoPhaseCommitted).toBeGreaterThanOrEqual(1);
    expect(m.active).toBe(0);
    const report = await h.tm.recover();
    expect(report.ran).toBe(true);
    expect(report.transactions).toEqual([]);
  });

  it('fails with a PgmError when the callback misuses the handle after the end', async () => {
    let saved: Parameters<Parameters<typeof h.tm.withTransaction>[1]>[0] | undefined;
    await h.tm.withTransaction([U], async (tx) => {
      saved = tx;
    });
    const err = await saved!.query('SELECT 1').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PgmError);
  });
});

describe('participants chosen by shard key (participantOf)', () => {
  it('routes each statement to the participant of its key, limits participants, and needs participantOf', async () => {
    // Both servers hold a table in schema U; "shards" here are the two clusters' primaries.
    await h.pools.commerce_cluster!.query(`CREATE SCHEMA IF NOT EXISTS "${U}"`);
    await h.pools.commerce_cluster!.query(`CREATE TABLE IF NOT EXISTS "${U}".items (id int PRIMARY KEY, note text)`);
    const primaries = {
      users_cluster: topo.config.users_cluster!.primary,
      commerce_cluster: topo.config.commerce_cluster!.primary,
    };
    const byKey = (_cluster: string, key: unknown) => (Number(key) % 2 === 0 ? 'users_cluster' : 'commerce_cluster');
    const sharded = harness(primaries, { users_cluster: [U], commerce_cluster: [] }, { participantOf: byKey });
    const limited = harness(
      primaries,
      { users_cluster: [U], commerce_cluster: [] },
      {
        participantOf: byKey,
        maxParticipants: 1,
      },
    );
    const plain = harness(primaries, { users_cluster: [U], commerce_cluster: [] });
    try {
      const seen: TransactionCommittedEvent[] = [];
      sharded.tm.on('transactionCommitted', (e) => seen.push(e));
      await sharded.tm.withTransaction([U], async (tx) => {
        await tx.query('INSERT INTO items VALUES ($1, $2)', [9001, 'even'], { shardKey: 2 });
        await tx.query('INSERT INTO items VALUES ($1, $2)', [9002, 'odd'], { shardKey: 3 });
      });
      expect(seen[0]!.twoPhase).toBe(true);
      expect(seen[0]!.statements.map((s) => `${s.clusterId}>${s.participant ?? s.clusterId}`)).toEqual([
        'users_cluster>users_cluster',
        'users_cluster>commerce_cluster',
      ]);
      expect(await has('users_cluster', U, 9001)).toBe(true);
      expect(await has('commerce_cluster', U, 9002)).toBe(true);

      const over = await limited.tm
        .withTransaction([U], async (tx) => {
          await tx.query('INSERT INTO items VALUES ($1, $2)', [9003, 'even'], { shardKey: 4 });
          await tx.query('SELECT 1', [], { shardKey: 5 });
        })
        .catch((e: unknown) => e);
      expect(isPgmError(over, 'FEATURE_DISABLED')).toBe(true);
      expect(await has('users_cluster', U, 9003)).toBe(false); // rolled back with the transaction

      const noFn = await plain.tm
        .withTransaction([U], (tx) => tx.query('SELECT 1', [], { shardKey: 1 }))
        .catch((e) => e);
      expect(isPgmError(noFn, 'INVALID_ARGUMENT')).toBe(true);
      expect((noFn as Error).message).toMatch(/participantOf/);
    } finally {
      for (const x of [sharded, limited, plain]) await x.close();
      await h.pools.commerce_cluster!.query(`DROP SCHEMA IF EXISTS "${U}" CASCADE`);
    }
  });
});

describe('participants chosen from the statement (routeStatement)', () => {
  it('one participant per statement, or one statement over several with its parts recorded', async () => {
    // "Shards" are the two clusters' primaries, each with a table in schema S.
    const S = uniqueName('txr');
    for (const p of Object.values(h.pools)) {
      await p.query(`CREATE SCHEMA "${S}"`);
      await p.query(`CREATE TABLE "${S}".items (id int PRIMARY KEY, note text)`);
    }
    const shards = ['users_cluster', 'commerce_cluster'];
    const asked: StatementRouteRequest[] = [];
    const routed = harness(
      { users_cluster: topo.config.users_cluster!.primary, commerce_cluster: topo.config.commerce_cluster!.primary },
      { users_cluster: [S], commerce_cluster: [] },
      {
        routeStatement(r) {
          asked.push(r);
          // an INSERT goes to the "shard" of its id's parity; anything else to both, counts summed
          if (r.sql.startsWith('INSERT')) return { participant: shards[Number(r.params![0]) % 2]! };
          if (r.sql.startsWith('SELECT count')) {
            return {
              run: async (on) => {
                const parts = await Promise.all(shards.map((p) => on(p, r.sql, r.params)));
                const n = parts.reduce((a, x) => a + Number(x.rows[0]!.n), 0);
                return { command: 'SELECT', rowCount: 1, rows: [{ n }], fields: parts[0]!.fields };
              },
            };
          }
          return undefined;
        },
      },
    );
    try {
      const seen: TransactionCommittedEvent[] = [];
      routed.tm.on('transactionCommitted', (e) => seen.push(e));
      const n = await routed.tm.withTransaction([S], async (tx) => {
        await tx.query('INSERT INTO items VALUES ($1, $2)', [2, 'even']);
        await tx.query('INSERT INTO items VALUES ($1, $2)', [3, 'odd']);
        // undefined: the cluster itself
        await tx.query('SELECT 1');
        // the parts see the transaction's own rows on each participant
        return (await tx.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows[0]!.n;
      });
      expect(n).toBe(2);
      expect(asked.map((r) => [r.clusterId, r.schema, r.shardKey])).toEqual(
        Array.from({ length: 4 }, () => ['users_cluster', S, undefined]),
      );
      expect(seen[0]!.twoPhase).toBe(true);
      expect(seen[0]!.statements.map((s) => s.participant ?? s.clusterId)).toEqual([
        'users_cluster',
        'commerce_cluster',
        'users_cluster',
        'users_cluster',
        'commerce_cluster',
      ]);
      for (const p of Object.values(h.pools)) {
        expect((await p.query(`SELECT count(*)::int AS n FROM "${S}".items`)).rows[0].n).toBe(1);
      }
    } finally {
      await routed.close();
      for (const p of Object.values(h.pools)) await p.query(`DROP SCHEMA IF EXISTS "${S}" CASCADE`);
    }
  });
});
