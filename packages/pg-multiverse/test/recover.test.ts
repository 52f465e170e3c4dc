import { quoteIdent, quoteLiteral } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import { createDecisionLog, formatGid, newTxid } from '@pg-multiverse/tx';
import pg from 'pg';
import { type ClusterConfiguration, PgMultiverse } from 'pg-multiverse';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

// On the shared topology, without disturbing it: the clusters get unique ids, so this
// instance's gids (`pgm:<owner>:...`, owner = the coordinator cluster's id) and decision rows
// are its own and no other test's recovery can touch them (nor this one theirs).
const { config: shared } = inject('pgmTopology');
const A = uniqueName('rca');
const B = uniqueName('rcb');
const SA = uniqueName('rsa');
const SB = uniqueName('rsb');
const config: ClusterConfiguration = {
  [A]: { primary: shared.users_cluster!.primary, replicas: [], schemas: [SA] },
  [B]: { primary: shared.commerce_cluster!.primary, replicas: [], schemas: [SB] },
};
const log = createDecisionLog('pgm_tx', 'decisions');
let adminA: pg.Pool;
let adminB: pg.Pool;

beforeAll(async () => {
  adminA = new pg.Pool({ ...shared.users_cluster!.primary, max: 2 });
  adminB = new pg.Pool({ ...shared.commerce_cluster!.primary, max: 2 });
  await adminA.query(`CREATE SCHEMA ${quoteIdent(SA)}; CREATE TABLE ${quoteIdent(SA)}.items (id int PRIMARY KEY)`);
  await adminB.query(`CREATE SCHEMA ${quoteIdent(SB)}; CREATE TABLE ${quoteIdent(SB)}.items (id int PRIMARY KEY)`);
});

afterAll(async () => {
  // Nothing of ours may stay prepared on the shared servers, whatever happened above.
  for (const pool of [adminA, adminB]) {
    const left = await pool.query<{ gid: string }>('SELECT gid FROM pg_prepared_xacts WHERE starts_with(gid, $1)', [
      `pgm:${A}:`,
    ]);
    for (const { gid } of left.rows) await pool.query(`ROLLBACK PREPARED ${quoteLiteral(gid)}`).catch(() => {});
  }
  await adminA.query('DELETE FROM pgm_tx.decisions WHERE owner_id = $1', [A]).catch(() => {});
  await adminA.query(`DROP SCHEMA IF EXISTS ${quoteIdent(SA)} CASCADE`);
  await adminB.query(`DROP SCHEMA IF EXISTS ${quoteIdent(SB)} CASCADE`);
  await adminA.end();
  await adminB.end();
});

/** What a coordinator that died after PREPARE leaves behind: one prepared transaction per cluster. */
async function leaveInDoubt(id: number): Promise<{ txid: string; gids: string[] }> {
  const txid = newTxid();
  const gids: string[] = [];
  for (const [pool, cluster, schema] of [
    [adminA, A, SA],
    [adminB, B, SB],
  ] as const) {
    const gid = formatGid(A, txid, cluster);
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO ${quoteIdent(schema)}.items VALUES ($1)`, [id]);
      await c.query(`PREPARE TRANSACTION ${quoteLiteral(gid)}`);
    } finally {
      c.release();
    }
    gids.push(gid);
  }
  return { txid, gids };
}

const visible = async (pool: pg.Pool, schema: string, id: number) =>
  (await pool.query(`SELECT 1 FROM ${quoteIdent(schema)}.items WHERE id = $1`, [id])).rowCount ?? 0;

const preparedOf = async (gids: string[]) =>
  (
    await Promise.all(
      [adminA, adminB].map((p) => p.query('SELECT gid FROM pg_prepared_xacts WHERE gid = ANY($1::text[])', [gids])),
    )
  ).flatMap((r) => r.rows);

describe('PgMultiverse#recover()', () => {
  it('finishes in-doubt transactions now: commit where a decision says so, presumed abort otherwise', async () => {
    const pgm = new PgMultiverse({ transactions: { recoveryIntervalMs: 0, safeAgeMs: 0 } });
    await expect(pgm.recover()).rejects.toMatchObject({ code: 'NOT_INITIALIZED' });
    await pgm.initialize(config);
    const recovered: unknown[] = [];
    pgm.on('transactionRecovered', (e) => recovered.push(e));
    try {
      // Left after initialize (whose start-up recovery would otherwise finish them first).
      const decided = await leaveInDoubt(1);
      expect(await log.decide(adminA, decided.txid, A, 'commit', decided.gids)).toBe('commit');
      const undecided = await leaveInDoubt(2);
      expect(await preparedOf([...decided.gids, ...undecided.gids])).toHaveLength(4);

      const report = await pgm.recover();
      expect(report).toMatchObject({ ran: true, committed: 2, rolledBack: 2, waiting: 0, failedClusters: [] });
      expect(report.reason).toBeUndefined();
      expect(report.transactions.map((t) => `${t.clusterId}:${t.txid}:${t.action}`).sort()).toEqual(
        [
          `${A}:${decided.txid}:commit`,
          `${B}:${decided.txid}:commit`,
          `${A}:${undecided.txid}:rollback`,
          `${B}:${undecided.txid}:rollback`,
        ].sort(),
      );
      expect(await preparedOf([...decided.gids, ...undecided.gids])).toEqual([]);
      expect(await visible(adminA, SA, 1)).toBe(1);
      expect(await visible(adminB, SB, 1)).toBe(1);
      expect(await visible(adminA, SA, 2)).toBe(0);
      expect(await visible(adminB, SB, 2)).toBe(0);
      // Recovery fenced the undecided one: a late coordinator can no longer commit it.
      expect((await log.lookup(adminA, [undecided.txid])).get(undecided.txid)).toBe('abort');
      expect(recovered).toHaveLength(4);
      expect(pgm.getMetrics().transactions).toMatchObject({ recovered: 4 });
      // Prometheus: one per prepared participant finished by recovery.
      const prom = pgm.getMetrics({ format: 'prometheus' });
      expect(prom).toContain('pgm_two_phase_commits_total{outcome="recovered_commit"} 2');
      expect(prom).toContain('pgm_two_phase_commits_total{outcome="recovered_rollback"} 2');

      // Nothing left: a second run finds nothing to do.
      const again = await pgm.recover();
      expect(again).toMatchObject({ ran: true, committed: 0, rolledBack: 0, transactions: [] });
    } finally {
      await pgm.close();
    }
    await expect(pgm.recover()).rejects.toMatchObject({ code: 'CLOSED' });
  });
});
