import { isPgmError, type PgmError, quoteLiteral } from '@pg-multiverse/core';
import { startTopology, type Topology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecoveryFailedEvent } from '../src/index.js';
import { isPreparedBusyError } from '../src/recovery.js';
import { type ClusterConn, type Harness, harness } from './helpers.js';

// Own topology: these tests hold prepared transactions busy and make a primary unreachable.
//
// c2's primary names a synchronous standby that never connects. Sessions keep the testkit's
// synchronous_commit = off and never wait; one that sets it to `on` waits forever inside
// COMMIT PREPARED, and while it waits PostgreSQL reports that prepared transaction as busy
// (55000, "prepared transaction with identifier ... is busy") to everyone else: the state a
// recovery run sees when it races a coordinator that is committing right now.
// c1 (the coordinator) stays untouched: the decision insert commits with synchronous_commit = on.
let topo: Topology;
let h: Harness;
let primaries: Record<string, ClusterConn>;
const schemas = { c1: ['fa'], c2: ['fb'] };

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  topo = await startTopology({ clusters: { c1: { schemas: ['fa'] }, c2: { schemas: ['fb'] } } });
  const c2 = topo.cluster('c2').primary;
  await c2.query("ALTER SYSTEM SET synchronous_standby_names = 'pgm_standby_that_never_connects'");
  // A restart, not a reload: the setting is then in force for every process before anyone commits.
  await c2.stop({ mode: 'fast' });
  await c2.start();
  primaries = { c1: topo.config.c1!.primary, c2: topo.config.c2!.primary };
  h = harness(primaries, schemas, { decisionRetentionMs: 0 });
  await h.pools.c1!.query('CREATE TABLE fa.items (id int PRIMARY KEY, note text)');
  await h.pools.c2!.query('CREATE TABLE fb.items (id int PRIMARY KEY, note text)');
  await h.tm.preflight();
});

afterAll(async () => {
  await h?.close();
  await topo?.stop();
});

const rows = async (cluster: string, schema: string, id: number) =>
  (await h.pools[cluster]!.query(`SELECT 1 FROM "${schema}".items WHERE id = $1`, [id])).rowCount ?? 0;

const decisionRows = async (txid: string) =>
  (await h.pools.c1!.query(`SELECT decision FROM "${h.decisionSchema}".decisions WHERE txid = $1`, [txid])).rows;

/** A session on c2's primary whose COMMIT PREPARED of `gid` is stuck waiting for the synchronous standby. */
async function holdBusy(gid: string): Promise<{ pid: number; done: Promise<unknown>; close(): Promise<void> }> {
  const c = new pg.Client(primaries.c2);
  c.on('error', () => {});
  await c.connect();
  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  await c.query('SET synchronous_commit = on');
  const done = c.query(`COMMIT PREPARED ${quoteLiteral(gid)}`);
  done.catch(() => undefined);
  await waitFor('COMMIT PREPARED to wait for the synchronous standby', async () => {
    const r = await topo
      .cluster('c2')
      .primary.query<{ wait_event: string | null }>('SELECT wait_event FROM pg_stat_activity WHERE pid = $1', [pid]);
    return r.rows[0]?.wait_event === 'SyncRep';
  });
  return { pid, done, close: () => c.end() };
}

describe('recovery racing a live COMMIT PREPARED', () => {
  it('leaves a busy prepared transaction to its committer, reports no failure, and cleans up on a later run', async () => {
    let txid = '';
    let gid = '';
    let blocker: Awaited<ReturnType<typeof holdBusy>> | undefined;
    let hookError: unknown;
    const live = harness(primaries, schemas, {
      ownerId: h.ownerId,
      decisionSchema: h.decisionSchema,
      commitRetries: 1,
      hooks: {
        // Decision recorded: another session starts COMMIT PREPARED on c2 and gets stuck in it.
        afterDecision: async (info) => {
          txid = info.id;
          gid = info.gids.c2!;
          blocker = await holdBusy(gid).catch((e: unknown) => {
            hookError = e;
            return undefined;
          });
        },
      },
    });
    const failures: RecoveryFailedEvent[] = [];
    h.tm.on('recoveryFailed', (e) => failures.push(e));
    try {
      let pending: string[] = [];
      live.tm.on('transactionCommitted', (e) => {
        pending = e.pendingRecovery;
      });
      await live.tm.withTransaction(['fa', 'fb'], async (tx) => {
        await tx.query('INSERT INTO items VALUES (1, $1)', ['a'], { schema: 'fa' });
        await tx.query('INSERT INTO items VALUES (1, $1)', ['b'], { schema: 'fb' });
      });
      expect(hookError).toBeUndefined();
      // The coordinator's own COMMIT PREPARED on c2 found it busy too: left for recovery, not an error.
      expect(pending).toEqual(['c2']);
      expect(await rows('c1', 'fa', 1)).toBe(1);
      expect(await h.prepared('c2')).toEqual([gid]);

      // What PostgreSQL 15 answers here, seen directly.
      const direct = await h.pools.c2!.query(`COMMIT PREPARED ${quoteLiteral(gid)}`).catch((e: unknown) => e);
      expect(direct).toMatchObject({ code: '55000', message: `prepared transaction with identifier "${gid}" is busy` });
      expect(isPreparedBusyError(direct)).toBe(true);

      const first = await h.tm.recover();
      expect(failures).toEqual([]);
      expect(first.ran).toBe(true);
      expect(first.failedClusters).toEqual([]);
      expect(first.waiting).toBe(1);
      expect(first.transactions).toEqual([
        expect.objectContaining({ gid, txid, clusterId: 'c2', decision: 'commit', action: 'wait' }),
      ]);
      // The decision is still needed by the busy participant: kept.
      expect(await decisionRows(txid)).toEqual([{ decision: 'commit' }]);
      expect(h.tm.metrics().prepared).toEqual({ c2: expect.objectContaining({ count: 1 }) });

      // The committer gets through (cancelling a synchronous-replication wait keeps the local commit).
      await topo.cluster('c2').primary.query('SELECT pg_cancel_backend($1)', [blocker!.pid]);
      await blocker!.done;
      expect(await rows('c2', 'fb', 1)).toBe(1);
      expect(await h.prepared('c2')).toEqual([]);

      const second = await h.tm.recover();
      expect(failures).toEqual([]);
      expect(second.transactions).toEqual([]);
      expect(second.failedClusters).toEqual([]);
      expect(second.pruned).toBeGreaterThanOrEqual(1);
      expect(await decisionRows(txid)).toEqual([]);
    } finally {
      await blocker?.close();
      await live.tm.close();
      await Promise.all(Object.values(live.pools).map((p) => p.end()));
    }
  });

  it('tells the busy 55000 apart from other 55000 errors', async () => {
    await h.pools.c2!.query('CREATE SEQUENCE fb.s');
    // currval before nextval: also 55000 (object_not_in_prerequisite_state), but not "busy".
    const seq = await h.pools.c2!.query("SELECT currval('fb.s')").catch((e: unknown) => e);
    expect(seq).toMatchObject({ code: '55000' });
    expect(isPreparedBusyError(seq)).toBe(false);
    expect(isPreparedBusyError({ code: '55006', message: 'prepared transaction with identifier "x" is busy' })).toBe(
      false,
    );
  });
});

describe('a participant whose primary is unreachable', () => {
  /** A transaction over both clusters; resolves to the error it failed with. */
  const touchBoth = async (tm: Harness['tm']): Promise<PgmError> => {
    const err = await tm
      .withTransaction(['fa', 'fb'], async (tx) => {
        await tx.query('INSERT INTO items VALUES (100, $1)', ['a'], { schema: 'fa' });
        await tx.query('INSERT INTO items VALUES (100, $1)', ['b'], { schema: 'fb' });
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    if (!(err instanceof Error)) throw new Error('the transaction was expected to fail');
    return err as PgmError;
  };

  it('fails with CONNECTION_FAILED naming the network error when the primary resets connections', async () => {
    const proxy = topo.cluster('c2').primary.proxy;
    proxy.refuse();
    let err: PgmError;
    try {
      err = await touchBoth(h.tm);
    } finally {
      proxy.restore();
    }
    expect(isPgmError(err, 'CONNECTION_FAILED')).toBe(true);
    expect(err.clusterId).toBe('c2');
    expect(err.message).toMatch(
      /^tx: could not get a connection to the primary of "c2": .*(ECONNRESET|Connection terminated)/,
    );
    expect(err.cause).toBeInstanceOf(Error);
    expect(err.message).toContain((err.cause as Error).message);
    expect(await rows('c1', 'fa', 100)).toBe(0);
  });

  it('names ECONNREFUSED when the primary is stopped, and keeps the cause', async () => {
    const node = topo.cluster('c2').primary;
    // Straight to the server's port (the proxy would accept, then reset): nothing listens once it stops.
    const direct = harness({ ...primaries, c2: { ...primaries.c2!, port: node.serverPort } }, schemas, {
      ownerId: h.ownerId,
      decisionSchema: h.decisionSchema,
    });
    await node.stop({ mode: 'fast' });
    let err: PgmError;
    try {
      err = await touchBoth(direct.tm);
    } finally {
      await node.start();
      await direct.tm.close();
      await Promise.all(Object.values(direct.pools).map((p) => p.end()));
    }
    expect(isPgmError(err, 'CONNECTION_FAILED')).toBe(true);
    expect(err.message).toMatch(/^tx: could not get a connection to the primary of "c2": .*ECONNREFUSED/);
    expect(err.message).toContain(`127.0.0.1:${node.serverPort}`);
    expect(err.cause).toMatchObject({ code: 'ECONNREFUSED' });
    expect(err.sqlState).toBeUndefined();
  });
});
