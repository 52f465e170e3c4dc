import { isPgmError } from '@pg-multiverse/core';
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransactionRecoveredEvent } from '../src/index.js';
import { runAndKillCoordinator } from './crash-child.js';
import { type ClusterConn, type Harness, harness } from './helpers.js';

// Own topology: these tests stop servers and leave prepared transactions behind on purpose.
let topo: Topology;
let h: Harness;
let primaries: Record<string, ClusterConn>;
const schemas = { c1: ['sa'], c2: ['sb'] };
const recovered: TransactionRecoveredEvent[] = [];

const rows = async (cluster: string, schema: string, id: number) =>
  (await h.pools[cluster]!.query(`SELECT 1 FROM "${schema}".items WHERE id = $1`, [id])).rowCount ?? 0;

beforeAll(async () => {
  topo = await startTopology({ clusters: { c1: { schemas: ['sa'] }, c2: { schemas: ['sb'] } } });
  primaries = { c1: topo.config.c1!.primary, c2: topo.config.c2!.primary };
  h = harness(primaries, schemas, { safeAgeMs: 0 });
  await h.pools.c1!.query('CREATE TABLE sa.items (id int PRIMARY KEY, note text)');
  await h.pools.c2!.query('CREATE TABLE sb.items (id int PRIMARY KEY, note text)');
  await h.tm.preflight();
  h.tm.on('transactionRecovered', (e) => recovered.push(e));
});

afterAll(async () => {
  await h?.close();
  await topo?.stop();
});

const childSpec = (pauseAt: 'afterPrepare' | 'afterDecision', rowId: number) => ({
  primaries,
  schemas,
  ownerId: h.ownerId,
  decisionSchema: h.decisionSchema,
  pauseAt,
  rowId,
});

describe('crash recovery', () => {
  it('rolls both sides back when the coordinator is killed after PREPARE, before the decision', async () => {
    const run = await runAndKillCoordinator(childSpec('afterPrepare', 1));
    expect(run.exitSignal).toBe('SIGKILL');
    // c1 is the coordinator cluster: its participant is never prepared (its COMMIT is the decision);
    // killed before it, its open transaction died with the connection.
    expect(await h.prepared('c1')).toEqual([]);
    expect((await h.prepared('c2')).length).toBe(1);
    const report = await h.tm.recover();
    expect(report.ran).toBe(true);
    expect(report.rolledBack).toBe(1);
    expect(await rows('c1', 'sa', 1)).toBe(0);
    expect(await rows('c2', 'sb', 1)).toBe(0);
    expect(await h.prepared('c1')).toEqual([]);
    expect(await h.prepared('c2')).toEqual([]);
    // Recovery fenced the transaction with an abort decision.
    const d = await h.pools.c1!.query(`SELECT decision FROM "${h.decisionSchema}".decisions WHERE txid = $1`, [
      run.txid,
    ]);
    expect(d.rows).toEqual([{ decision: 'abort' }]);
    expect(recovered.filter((e) => e.txid === run.txid).map((e) => e.action)).toEqual(['rollback']);
  });

  it('commits both sides when the coordinator is killed after the decision, before COMMIT PREPARED', async () => {
    const run = await runAndKillCoordinator(childSpec('afterDecision', 2));
    expect(run.exitSignal).toBe('SIGKILL');
    // The coordinator's COMMIT was the decision: its side is visible, the other still prepared.
    expect(await rows('c1', 'sa', 2)).toBe(1);
    expect(await rows('c2', 'sb', 2)).toBe(0);
    const report = await h.tm.recover();
    expect(report.committed).toBe(1);
    expect(await rows('c1', 'sa', 2)).toBe(1);
    expect(await rows('c2', 'sb', 2)).toBe(1);
    expect(await h.prepared('c1')).toEqual([]);
    expect(await h.prepared('c2')).toEqual([]);
  });

  it('does nothing while the coordinator cluster is unreachable, then finishes the job', async () => {
    await runAndKillCoordinator(childSpec('afterPrepare', 3));
    await topo.cluster('c1').primary.stop({ mode: 'fast' });
    try {
      const report = await h.tm.recover();
      expect(report.ran).toBe(false);
      expect(report.reason).toMatch(/coordinator/);
      expect((await h.prepared('c2')).length).toBe(1); // never guessed
    } finally {
      await topo.cluster('c1').primary.start();
    }
    const report = await h.tm.recover();
    expect(report.rolledBack).toBe(1);
    expect(await rows('c1', 'sa', 3)).toBe(0);
    expect(await rows('c2', 'sb', 3)).toBe(0);
    expect(await h.prepared('c1')).toEqual([]);
    expect(await h.prepared('c2')).toEqual([]);
  });

  it('commits a participant that was stopped between PREPARE and COMMIT once it is back', async () => {
    const node = topo.cluster('c2').primary;
    const stopping = harness(primaries, schemas, {
      ownerId: h.ownerId,
      decisionSchema: h.decisionSchema,
      commitRetries: 2,
      hooks: { afterDecision: () => node.stop({ mode: 'fast' }) },
    });
    try {
      let pending: string[] = [];
      stopping.tm.on('transactionCommitted', (e) => {
        pending = e.pendingRecovery;
      });
      await stopping.tm.withTransaction(['sa', 'sb'], async (tx) => {
        await tx.query('INSERT INTO items VALUES (4, $1)', ['a'], { schema: 'sa' });
        await tx.query('INSERT INTO items VALUES (4, $1)', ['b'], { schema: 'sb' });
      });
      expect(pending).toEqual(['c2']);
      expect(await rows('c1', 'sa', 4)).toBe(1);
    } finally {
      await node.start();
      await stopping.tm.close();
      await Promise.all(Object.values(stopping.pools).map((p) => p.end()));
    }
    expect((await h.prepared('c2')).length).toBe(1);
    const report = await h.tm.recover();
    expect(report.committed).toBe(1);
    expect(await rows('c2', 'sb', 4)).toBe(1);
    expect(await h.prepared('c2')).toEqual([]);
  });

  it('settles a coordinator connection lost during its decision at once: fenced with abort, nothing commits', async () => {
    const killer = harness(primaries, schemas, {
      ownerId: h.ownerId,
      decisionSchema: h.decisionSchema,
      hooks: {
        // c2 is prepared; the coordinator cluster's participant (c1) waits, idle in its transaction,
        // for the decision: end that backend, so the decision's INSERT; COMMIT meets a dead connection.
        afterPrepare: async () => {
          await h.pools.c1!.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()`,
          );
        },
      },
    });
    const rolled: string[] = [];
    killer.tm.on('transactionRolledBack', (e) => rolled.push(e.reason));
    try {
      let txid = '';
      const err = await killer.tm
        .withTransaction(['sa', 'sb'], async (tx) => {
          txid = tx.id;
          await tx.query('INSERT INTO items VALUES (5, $1)', ['a'], { schema: 'sa' });
          await tx.query('INSERT INTO items VALUES (5, $1)', ['b'], { schema: 'sb' });
        })
        .catch((e: unknown) => e);
      expect(isPgmError(err, 'TRANSACTION_FAILED')).toBe(true);
      expect((err as Error).message).toMatch(/broke before its commit/);
      expect(rolled).toEqual(['prepare_failed']);
      expect(await rows('c1', 'sa', 5)).toBe(0);
      expect(await rows('c2', 'sb', 5)).toBe(0);
      expect(await h.prepared('c2')).toEqual([]);
      const d = await h.pools.c1!.query(`SELECT decision FROM "${h.decisionSchema}".decisions WHERE txid = $1`, [txid]);
      expect(d.rows).toEqual([{ decision: 'abort' }]);
    } finally {
      await killer.tm.close();
      await Promise.all(Object.values(killer.pools).map((p) => p.end()));
    }
  });

  it("a recovery that fences the transaction before the coordinator's decision wins: nothing commits", async () => {
    const racer = harness(primaries, schemas, {
      ownerId: h.ownerId,
      decisionSchema: h.decisionSchema,
      // safeAgeMs 0 on h: its recovery takes c2's fresh prepared transaction for an abandoned one.
      hooks: { afterPrepare: () => h.tm.recover().then(() => undefined) },
    });
    const rolled: string[] = [];
    racer.tm.on('transactionRolledBack', (e) => rolled.push(e.reason));
    try {
      const err = await racer.tm
        .withTransaction(['sa', 'sb'], async (tx) => {
          await tx.query('INSERT INTO items VALUES (6, $1)', ['a'], { schema: 'sa' });
          await tx.query('INSERT INTO items VALUES (6, $1)', ['b'], { schema: 'sb' });
        })
        .catch((e: unknown) => e);
      expect(isPgmError(err, 'TRANSACTION_FAILED')).toBe(true);
      expect((err as Error).message).toMatch(/rolled back by recovery/);
      expect(rolled).toEqual(['aborted_by_recovery']);
      expect(await rows('c1', 'sa', 6)).toBe(0);
      expect(await rows('c2', 'sb', 6)).toBe(0);
      expect(await h.prepared('c2')).toEqual([]);
    } finally {
      await racer.tm.close();
      await Promise.all(Object.values(racer.pools).map((p) => p.end()));
    }
  });

  it('prepares a participant whose statements read but wrote through a function, instead of committing it early', async () => {
    await h.pools.c2!.query(
      "CREATE FUNCTION sb.insert_item(i int) RETURNS int LANGUAGE sql AS $$ INSERT INTO sb.items VALUES (i, 'fn') RETURNING 1 $$",
    );
    let gids: Record<string, string> = {};
    const fn = harness(primaries, schemas, {
      ownerId: h.ownerId,
      decisionSchema: h.decisionSchema,
      hooks: {
        afterPrepare: (info) => {
          gids = info.gids;
          throw new Error('stop before the decision');
        },
      },
    });
    try {
      const err = await fn.tm
        .withTransaction(['sa', 'sb'], async (tx) => {
          await tx.query('INSERT INTO items VALUES (7, $1)', ['a'], { schema: 'sa' });
          await tx.query('SELECT insert_item(7)', [], { schema: 'sb' }); // a read to the SQL analysis
        })
        .catch((e: unknown) => e);
      expect((err as Error).message).toBe('stop before the decision');
      expect(Object.keys(gids)).toEqual(['c2']);
      expect(await rows('c1', 'sa', 7)).toBe(0);
      expect(await rows('c2', 'sb', 7)).toBe(0);
      expect(await h.prepared('c2')).toEqual([]);
    } finally {
      await fn.tm.close();
      await Promise.all(Object.values(fn.pools).map((p) => p.end()));
    }
  });

  it('never touches prepared transactions of other owners', async () => {
    const c = new pg.Client(primaries.c2);
    await c.connect();
    const foreign = ['other_app_tx_1', 'pgm:someone-else:lx1-abc:c2'];
    try {
      for (const gid of foreign) {
        await c.query('BEGIN');
        await c.query('INSERT INTO sb.items VALUES ($1, $2)', [100 + foreign.indexOf(gid), gid]);
        await c.query(`PREPARE TRANSACTION '${gid}'`);
      }
      const report = await h.tm.recover();
      expect(report.transactions).toEqual([]);
      const left = await c.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts ORDER BY gid');
      expect(left.rows.map((r) => r.gid)).toEqual([...foreign].sort());
    } finally {
      for (const gid of foreign) await c.query(`ROLLBACK PREPARED '${gid}'`).catch(() => undefined);
      await c.end();
    }
  });

  it('prunes decision rows nobody needs any more', async () => {
    const pruner = harness(primaries, schemas, {
      ownerId: h.ownerId,
      decisionSchema: h.decisionSchema,
      decisionRetentionMs: 0,
    });
    try {
      const before = await h.pools.c1!.query(`SELECT count(*)::int AS n FROM "${h.decisionSchema}".decisions`);
      expect(before.rows[0].n).toBeGreaterThan(0);
      const report = await pruner.tm.recover();
      expect(report.pruned).toBe(before.rows[0].n);
      const after = await h.pools.c1!.query(`SELECT count(*)::int AS n FROM "${h.decisionSchema}".decisions`);
      expect(after.rows[0].n).toBe(0);
    } finally {
      await pruner.tm.close();
      await Promise.all(Object.values(pruner.pools).map((p) => p.end()));
    }
  });
});

describe('preflight', () => {
  let off: Topology;
  beforeAll(async () => {
    off = await startTopology({
      clusters: { p1: { schemas: ['pa'] }, p2: { schemas: ['pb'] } },
      settings: { max_prepared_transactions: 0 },
    });
  });
  afterAll(async () => {
    await off?.stop();
  });

  it('says how to fix max_prepared_transactions = 0, at preflight and at first use', async () => {
    const ph = harness({ p1: off.config.p1!.primary, p2: off.config.p2!.primary }, { p1: ['pa'], p2: ['pb'] });
    try {
      const err = await ph.tm.preflight().catch((e: unknown) => e);
      expect(isPgmError(err, 'PREPARED_TRANSACTIONS_DISABLED')).toBe(true);
      expect((err as Error).message).toMatch(/max_prepared_transactions/);
      expect((err as Error).message).toMatch(/restart/);
      await ph.pools.p1!.query('CREATE TABLE pa.t (id int)');
      await ph.pools.p2!.query('CREATE TABLE pb.t (id int)');
      const use = await ph.tm
        .withTransaction(['pa', 'pb'], async (tx) => {
          await tx.query('INSERT INTO t VALUES (1)', [], { schema: 'pa' });
          await tx.query('INSERT INTO t VALUES (1)', [], { schema: 'pb' });
        })
        .catch((e: unknown) => e);
      expect(isPgmError(use, 'PREPARED_TRANSACTIONS_DISABLED')).toBe(true);
      const n = await ph.pools.p1!.query('SELECT count(*)::int AS n FROM pa.t');
      expect(n.rows[0].n).toBe(0);
      // One cluster needs no 2PC and still works.
      await ph.tm.withTransaction(['pa'], (tx) => tx.query('INSERT INTO t VALUES (2)'));
      const m = await ph.pools.p1!.query('SELECT count(*)::int AS n FROM pa.t');
      expect(m.rows[0].n).toBe(1);
    } finally {
      await ph.close();
    }
  });
});
