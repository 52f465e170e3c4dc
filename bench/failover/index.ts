// Failure detection and recovery with the DEFAULT monitor settings (30 s interval, 5 s
// timeout, 3 attempts, 3 failures before mark-down), under read + write load:
// ROUNDS times a replica (replica-1 and replica-2 in turn), then ROUNDS times the primary:
//   kill   SIGQUIT to the postmaster (= pg_ctl stop -m immediate), time taken just before
//   down   kill -> `nodeDown`
//   (the node stays down DOWN_MS + k/ROUNDS s, so the re-probe backoff (250 ms doubling to
//   1 s) has reached its cap and round k restarts it at another phase of that second)
//   accept a raw pg client polling every 10 ms gets its first answer after `start()`
//   up     accept -> `nodeUp`
//   first  accept -> first read served by that replica / first write committed on the primary
// Writes that fail between the primary's kill and the first write committed after its
// restart are counted: sent to the dead primary before the mark-down (connection errors,
// 57P01/57P02 terminations), or refused at once with NO_AVAILABLE_NODE while it is marked
// down (each writer waits 10 ms after a failure, so that count is mostly downtime / 5 ms).
// Nodes are reached directly (no testkit proxy). Prints one JSON line.
//   cd bench && node --import tsx failover/index.ts        (ROUNDS, DOWN_MS env vars)
import { isPgmError } from '@pg-multiverse/core';
import { createRouter, type Router } from '@pg-multiverse/router';
import { type NodeHandle, startTopology } from '@pg-multiverse/testkit';
import pg from 'pg';
import { median, round2 } from '../lib/load.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const DOWN_MS = Number(process.env.DOWN_MS ?? 3000);
const READERS = 8;
const WRITERS = 2;

/**
 * Round k keeps the node down DOWN_MS plus k/ROUNDS of a second: a fixed downtime would
 * restart it at the same phase of the 1 s re-probe cadence every time (always just caught,
 * or always just missed); spreading the phase samples the whole second.
 */
const downFor = (k: number) => DOWN_MS + Math.round((1000 * k) / ROUNDS);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const topo = await startTopology({ clusters: { main: { replicas: 2, schemas: ['app'] } } });
let router: Router | undefined;
let stopLoad = false;
const loops: Promise<void>[] = [];
try {
  const { primary, replicas } = topo.cluster('main');
  await primary.query('CREATE TABLE app.kv (id int primary key, v int not null default 0)');
  await primary.query('INSERT INTO app.kv SELECT g FROM generate_series(1, 1000) g');
  for (const r of replicas) await r.waitForCatchUp();
  const direct = (h: NodeHandle) => ({ ...h.connection, port: h.serverPort });
  router = createRouter({
    main: { schemas: ['app'], primary: direct(primary), replicas: replicas.map(direct) },
  });
  const rt = router;
  await rt.start();

  // Event and load bookkeeping, all on performance.now().
  const downAt = new Map<string, number>();
  const upAt = new Map<string, number>();
  rt.on('nodeDown', (e) => downAt.set(e.nodeId, performance.now()));
  rt.on('nodeUp', (e) => upAt.set(e.nodeId, performance.now()));
  /** Per node: completion time of the last read it served. */
  const lastRead = new Map<string, number>();
  let lastWriteOk = 0;
  let reads = 0;
  let failedReads = 0;
  let writes = 0;
  /** Failed writes that reached for the dead primary (connection errors, 57P0x terminations), by error. */
  let writeConnFailures = 0;
  const writeErrors = new Map<string, number>();
  /** Writes refused at once with NO_AVAILABLE_NODE (primary marked down). */
  let writeRejections = 0;

  const reader = async () => {
    let i = 0;
    while (!stopLoad) {
      try {
        const r = await rt.query('SELECT v FROM kv WHERE id = $1', [(i++ % 1000) + 1], { schema: 'app' });
        reads++;
        lastRead.set(r.route.nodeId, performance.now());
      } catch {
        failedReads++;
      }
    }
  };
  const writer = async (w: number) => {
    let i = w;
    while (!stopLoad) {
      try {
        await rt.query('UPDATE kv SET v = v + 1 WHERE id = $1', [(i++ % 1000) + 1], { schema: 'app' });
        writes++;
        lastWriteOk = performance.now();
      } catch (err) {
        if (isPgmError(err) && err.code === 'NO_AVAILABLE_NODE') writeRejections++;
        else {
          writeConnFailures++;
          const what = isPgmError(err) ? `${err.code}${err.sqlState ? ` ${err.sqlState}` : ''}` : String(err);
          writeErrors.set(what, (writeErrors.get(what) ?? 0) + 1);
        }
        await sleep(10);
      }
    }
  };
  for (let k = 0; k < READERS; k++) loops.push(reader());
  for (let k = 0; k < WRITERS; k++) loops.push(writer(k * 500));
  await sleep(1000); // warm-up

  /** First time a raw client gets an answer from the node, polling every 10 ms. */
  async function acceptedAt(h: NodeHandle): Promise<number> {
    for (;;) {
      const c = new pg.Client({ ...direct(h), connectionTimeoutMillis: 1000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.query('SELECT 1');
        const t = performance.now();
        await c.end();
        return t;
      } catch {
        await c.end().catch(() => undefined);
        await sleep(10);
      }
    }
  }

  async function cycle(h: NodeHandle, nodeId: string, downMs: number) {
    downAt.delete(nodeId);
    upAt.delete(nodeId);
    const pid = h.pid;
    if (pid === undefined) throw new Error(`${nodeId} is not running`);
    const connBefore = writeConnFailures;
    const rejBefore = writeRejections;
    writeErrors.clear();
    const readFailBefore = failedReads;
    const killedAt = performance.now();
    process.kill(pid, 'SIGQUIT');
    await until(() => !h.running, `${nodeId} to exit`);
    await h.stop({ mode: 'immediate' }); // nothing left to stop: syncs the testkit's view
    await until(() => downAt.has(nodeId), `nodeDown ${nodeId}`);
    const down = downAt.get(nodeId)! - killedAt;
    await sleep(Math.max(0, killedAt + downMs - performance.now()));
    const accepted = acceptedAt(h);
    await h.start();
    const acceptAt = await accepted;
    await until(() => upAt.has(nodeId), `nodeUp ${nodeId}`);
    const isPrimary = nodeId === 'primary';
    await until(
      () => (isPrimary ? lastWriteOk : (lastRead.get(nodeId) ?? 0)) > acceptAt,
      `first ${isPrimary ? 'write' : 'read'} on ${nodeId}`,
    );
    const first = (isPrimary ? lastWriteOk : lastRead.get(nodeId)!) - acceptAt;
    // `first` is the completion of some served query after `accept`: the first one at the latest.
    const r = {
      down: down,
      up: upAt.get(nodeId)! - acceptAt,
      first,
      connFailures: writeConnFailures - connBefore,
      rejections: writeRejections - rejBefore,
      failedReads: failedReads - readFailBefore,
    };
    console.error(
      `${nodeId}: down ${Math.round(r.down)} ms, up ${Math.round(r.up)} ms, first ${Math.round(r.first)} ms, ` +
        `writes failed ${r.connFailures} (${[...writeErrors].map(([k, n]) => `${n} ${k}`).join(', ') || 'none'}) ` +
        `+ ${r.rejections} NO_AVAILABLE_NODE, reads failed ${r.failedReads}`,
    );
    for (const rep of replicas) await rep.waitForCatchUp();
    await until(() => rt.nodeStates().every((n) => n.healthy), 'every node healthy');
    await sleep(500);
    return r;
  }

  const replicaRuns = [];
  for (let k = 0; k < ROUNDS; k++) {
    const i = k % replicas.length;
    replicaRuns.push(await cycle(replicas[i]!, `replica-${i + 1}`, downFor(k)));
  }
  const primaryRuns = [];
  for (let k = 0; k < ROUNDS; k++) primaryRuns.push(await cycle(primary, 'primary', downFor(k)));

  const stats = (prefix: string, xs: number[]) => ({
    [`${prefix}_median_ms`]: round2(median(xs)),
    [`${prefix}_min_ms`]: round2(Math.min(...xs)),
    [`${prefix}_max_ms`]: round2(Math.max(...xs)),
  });
  const counts = (prefix: string, xs: number[]) => ({
    [`${prefix}_median`]: median(xs),
    [`${prefix}_max`]: Math.max(...xs),
  });
  stopLoad = true;
  await Promise.all(loops);
  console.log(
    JSON.stringify({
      bench: 'failover',
      rounds: ROUNDS,
      down_ms: DOWN_MS,
      readers: READERS,
      writers: WRITERS,
      ...stats(
        'replica_down',
        replicaRuns.map((r) => r.down),
      ),
      ...stats(
        'replica_up',
        replicaRuns.map((r) => r.up),
      ),
      ...stats(
        'replica_first_read',
        replicaRuns.map((r) => r.first),
      ),
      replica_failed_reads: replicaRuns.reduce((a, r) => a + r.failedReads, 0),
      ...stats(
        'primary_down',
        primaryRuns.map((r) => r.down),
      ),
      ...stats(
        'primary_up',
        primaryRuns.map((r) => r.up),
      ),
      ...stats(
        'primary_first_write',
        primaryRuns.map((r) => r.first),
      ),
      ...counts(
        'primary_failed_writes_connection',
        primaryRuns.map((r) => r.connFailures),
      ),
      ...counts(
        'primary_failed_writes_rejected',
        primaryRuns.map((r) => r.rejections),
      ),
      primary_failed_reads: primaryRuns.reduce((a, r) => a + r.failedReads, 0),
      reads,
      writes,
    }),
  );
} finally {
  stopLoad = true;
  await Promise.all(loops);
  await router?.close();
  await topo.stop();
}
