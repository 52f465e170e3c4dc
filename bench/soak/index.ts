// Soak: a mixed-fault workload against PgMultiverse on a real topology it starts itself,
// then invariant checks. Prints ONE JSON line on stdout (progress goes to stderr) and exits
// 1 when an invariant fails. Bounded: SOAK_MS (default 300000) of workload, then healing,
// recovery and checks. SOAK_SEED replays the fault schedule and workload choices.
//
//   pnpm soak                                  # from the repository root, 5 minutes
//   SOAK_MS=60000 SOAK_SEED=42 pnpm soak
//
// It runs the packages from source (tsconfig paths in bench/soak/tsconfig.json): no build needed.
// What it does and how each invariant is judged: BENCHMARKS.md, section "soak".
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type NodeHandle, startTopology, type Topology } from '@pg-multiverse/testkit';
import { PgMultiverse, type QueryOptions } from 'pg-multiverse';
import {
  type ChildSpec,
  CLUSTER_A,
  CLUSTER_B,
  CRASH_PLANS,
  type CrashPlan,
  errorCode,
  KV_A,
  KV_B,
  LEDGER_A,
  LEDGER_B,
  MOVE_SQL,
  type Rng,
  rng,
  sleep,
  TX_TIMEOUT_MS,
} from './shared.js';

// ---- settings ---------------------------------------------------------------------------------

const SOAK_MS = Number(process.env.SOAK_MS ?? 300_000);
const SEED = Number(process.env.SOAK_SEED ?? Math.floor(Math.random() * 2 ** 31));
if (!Number.isFinite(SOAK_MS) || SOAK_MS < 10_000) throw new Error('SOAK_MS must be a number >= 10000');
if (!Number.isInteger(SEED)) throw new Error('SOAK_SEED must be an integer');

const ACCOUNTS = 40; // per cluster
const INITIAL_BALANCE = 1000;
const TRANSFER_WORKERS = 16;
const RYW_WORKERS_PER_CLUSTER = 2;
const CACHE_WRITERS_PER_CLUSTER = 2;
const CACHE_READERS = 6;
const REPLICA_READERS = 2;
const HEALTH_INTERVAL_MS = 1000;
const HEALTH_TIMEOUT_MS = 1000;
const MAX_LAG_MS = 1000;
/**
 * A bounded read may be older than maxLagMs by this much before it counts as stale: the
 * router's lag figure is as old as its last probe round (rounds start healthCheckInterval
 * after the previous one ended and take up to healthCheckTimeout), plus 250 ms of slack,
 * plus the worst event-loop delay seen so far (late timers delay probe rounds as much).
 */
const BOUNDED_ALLOWANCE_MS = HEALTH_INTERVAL_MS + HEALTH_TIMEOUT_MS + 250;
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
const loopDelayMaxMs = () => loopDelay.max / 1e6;
const boundedAllowance = () => BOUNDED_ALLOWANCE_MS + loopDelayMaxMs();
const SAFE_AGE_MS = 5000;
const RECOVERY_INTERVAL_MS = 2000;
/** No new fault starts in the last FAULT_TAIL_MS of the workload; every fault heals itself within FAULT_HOLD_MAX_MS. */
const FAULT_TAIL_MS = 6000;
const WARMUP_MS = 2000;
const PRIMARY_RESTARTS = 2;
const CHILD_TIMEOUT_MS = 30_000;

const here = fileURLToPath(new URL('.', import.meta.url));
const t0 = performance.now();
const log = (msg: string) => process.stderr.write(`[soak +${((performance.now() - t0) / 1000).toFixed(1)}s] ${msg}\n`);

// ---- counters ---------------------------------------------------------------------------------

let unhandledRejections = 0;
let uncaughtExceptions = 0;
const unhandledSamples: string[] = [];
process.on('unhandledRejection', (reason) => {
  unhandledRejections++;
  if (unhandledSamples.length < 5) unhandledSamples.push(String((reason as Error)?.stack ?? reason).slice(0, 400));
});
process.on('uncaughtException', (err) => {
  uncaughtExceptions++;
  if (unhandledSamples.length < 5) unhandledSamples.push(`uncaught: ${String(err?.stack ?? err).slice(0, 400)}`);
});

interface ReadStats {
  ok: number;
  failed: number;
  stale: number;
  errors: Record<string, number>;
  examples: string[];
  /** bounded only: older than maxLagMs alone, without the allowance (information, not an invariant). */
  staleWithoutAllowance?: number;
  /** tx_session only: stale reads of a transaction that resolved with a participant's commit left to recovery. */
  stalePendingRecovery?: number;
}
const reads: Record<string, ReadStats> = {};
const readStats = (kind: string): ReadStats =>
  (reads[kind] ??= { ok: 0, failed: 0, stale: 0, errors: {}, examples: [] });
const countError = (errors: Record<string, number>, err: unknown) => {
  const c = errorCode(err);
  errors[c] = (errors[c] ?? 0) + 1;
};

interface Outcome {
  source: 'worker' | 'child';
  /** The transaction ran inside runWithSession. */
  inSession?: boolean;
  /** Its id in the tx package (events, gids). */
  txid?: string;
  status: 'pending' | 'committed' | 'rejected' | 'killed';
  code?: string;
  message?: string;
}
const outcomes = new Map<string, Outcome>();
const writes = { ok: 0, failed: 0, errors: {} as Record<string, number> };

const faults = {
  replica_kill: 0,
  replay_pause: 0,
  proxy_refuse: 0,
  primary_restart: 0,
  coordinator_kill: 0,
};
const faultErrors: string[] = [];
const crashes = {
  by_plan: {} as Record<string, number>,
  paused: 0,
  killed_without_pause: 0,
  child_start_failed: 0,
  child_start_errors: [] as string[],
  child_unhandled: 0,
  child_ready_ms_max: 0,
  recovery_after_kill: { ran: 0, committed: 0, rolled_back: 0, waiting: 0 },
};
const events: Record<string, number> = {};
const soakErrors: string[] = [];
/** txid -> participants whose COMMIT PREPARED was left to recovery when withTransaction resolved. */
const pendingRecovery = new Map<string, string[]>();
const cacheErrors: Record<string, number> = {};
/** Failure detection: when a node was stopped, and how long until the router said nodeDown / nodeUp. */
const stoppedAt = new Map<string, number>();
const restartedAt = new Map<string, number>();
const detection = {
  stops: 0,
  detected_down: 0,
  down_ms: [] as number[],
  restarts: 0,
  detected_up: 0,
  up_ms: [] as number[],
};
const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return sorted.length === 0
    ? {}
    : { median_ms: sorted[Math.floor(sorted.length / 2)], max_ms: sorted[sorted.length - 1] };
};

// ---- rows written with increasing versions ----------------------------------------------------

type SessionToken = ReturnType<PgMultiverse['createSession']>;

/** One kv row, written by exactly one worker with versions 1, 2, 3, ... */
class VersionedRow {
  next = 0;
  lastCompleted = 0;
  /** (version, time its write resolved) — the write committed no later than that. */
  private history: { v: number; at: number }[] = [{ v: 0, at: Number.NEGATIVE_INFINITY }];
  constructor(
    readonly schema: string,
    readonly id: number,
    readonly token: SessionToken,
  ) {}
  completed(v: number) {
    if (v <= this.lastCompleted) return;
    const at = performance.now();
    this.lastCompleted = v;
    this.history.push({ v, at });
    // Keep 30 s of history plus the newest older entry (bounded reads look a few seconds back).
    while (this.history.length > 1 && this.history[1]!.at < at - 30_000) this.history.shift();
  }
  /** Highest version whose write had resolved at time `t`. */
  completedBy(t: number): number {
    for (let i = this.history.length - 1; i >= 0; i--) if (this.history[i]!.at <= t) return this.history[i]!.v;
    return 0;
  }
}

// ---- topology and schema ----------------------------------------------------------------------

log(`starting topology (seed ${SEED}, workload ${SOAK_MS} ms)`);
const topo: Topology = await startTopology({
  clusters: {
    [CLUSTER_A]: { replicas: 2, schemas: [LEDGER_A, KV_A] },
    [CLUSTER_B]: { replicas: 1, schemas: [LEDGER_B, KV_B] },
  },
  // The testkit's synchronous_commit=off acknowledges commits still in WAL buffers: a primary
  // stopped with mode 'immediate' then loses the last few ms of acknowledged autocommit writes
  // (the first 5-minute run saw strong reads on the primary miss a write right after its
  // restart). With it on, an acknowledged commit has been written to the kernel (fsync stays
  // off; the OS does not crash here), as on a production server.
  settings: { synchronous_commit: 'on' },
});
let exitCode = 1;
try {
  exitCode = await soak(topo);
} catch (err) {
  log(`soak aborted: ${(err as Error)?.stack ?? err}`);
  process.stdout.write(
    `${JSON.stringify({ soak: 'mixed-faults', ok: false, seed: SEED, aborted: String((err as Error)?.message ?? err) })}\n`,
  );
} finally {
  await topo.stop();
}
process.exit(exitCode);

async function soak(topo: Topology): Promise<number> {
  const A = topo.cluster(CLUSTER_A);
  const B = topo.cluster(CLUSTER_B);
  for (const [cluster, ledger, kv] of [
    [A, LEDGER_A, KV_A],
    [B, LEDGER_B, KV_B],
  ] as const) {
    await cluster.primary.query(`
      CREATE TABLE ${ledger}.accounts (id int PRIMARY KEY, balance bigint NOT NULL);
      INSERT INTO ${ledger}.accounts SELECT g, ${INITIAL_BALANCE} FROM generate_series(1, ${ACCOUNTS}) g;
      CREATE TABLE ${ledger}.transfers (transfer_id text PRIMARY KEY, account int NOT NULL, delta bigint NOT NULL,
                                        at timestamptz NOT NULL DEFAULT clock_timestamp());
      CREATE TABLE ${kv}.kv (id int PRIMARY KEY, v bigint NOT NULL);
      INSERT INTO ${kv}.kv SELECT g, 0 FROM generate_series(1, 16) g;`);
    for (const r of cluster.replicas) await r.waitForCatchUp();
  }
  const expectedTotal = 2 * ACCOUNTS * INITIAL_BALANCE;

  const pgm = new PgMultiverse({
    enableCache: true,
    cluster: { healthCheckInterval: HEALTH_INTERVAL_MS, healthCheckTimeout: HEALTH_TIMEOUT_MS },
    connectionPool: { max: 32, connectionTimeoutMillis: 3000, queryTimeout: 20_000 },
    transactions: { recoveryIntervalMs: RECOVERY_INTERVAL_MS, safeAgeMs: SAFE_AGE_MS },
  });
  for (const name of [
    'nodeDown',
    'nodeUp',
    'clusterDown',
    'clusterRecovered',
    'roleChanged',
    'splitBrain',
    'readFallback',
    'queryRetried',
    'replicaLagging',
    'cacheError',
    'transactionRecovered',
    'recoveryFailed',
    'poolError',
  ]) {
    pgm.on(name, () => {
      events[name] = (events[name] ?? 0) + 1;
    });
  }
  pgm.on('transactionCommitted', (e) => {
    const pending = (e as { pendingRecovery?: string[] }).pendingRecovery;
    if (pending && pending.length > 0) pendingRecovery.set(e.id, pending);
  });
  pgm.on('cacheError', (e) => {
    const what = `${e.operation}: ${errorCode(e.error)}`;
    cacheErrors[what] = (cacheErrors[what] ?? 0) + 1;
  });
  pgm.on('nodeDown', (e) => {
    const key = `${e.clusterId}/${e.nodeId}`;
    const at = stoppedAt.get(key);
    if (at === undefined) return;
    stoppedAt.delete(key);
    detection.detected_down++;
    detection.down_ms.push(Math.round(performance.now() - at));
  });
  pgm.on('nodeUp', (e) => {
    const key = `${e.clusterId}/${e.nodeId}`;
    const at = restartedAt.get(key);
    if (at === undefined) return;
    restartedAt.delete(key);
    detection.detected_up++;
    detection.up_ms.push(Math.round(performance.now() - at));
  });
  /** Stop a node for `ms`, noting the times for the detection figures. */
  const stopFor = async (node: NodeHandle, ms: number) => {
    await node.stop({ mode: 'immediate' });
    detection.stops++;
    stoppedAt.set(node.key, performance.now());
    await hold(ms);
    await node.start();
    // Only a stop the router noticed can be followed by a nodeUp.
    if (!stoppedAt.delete(node.key)) {
      detection.restarts++;
      restartedAt.set(node.key, performance.now());
    }
  };
  await pgm.initialize(topo.config);
  // `pgm.recover()` is being added to the facade; until then, its transaction manager's.
  const facade = pgm as unknown as {
    recover?: () => Promise<RecoveryReportLike>;
    tm?: { recover(): Promise<RecoveryReportLike> };
  };
  const recoverVia =
    typeof facade.recover === 'function' ? 'pgm.recover()' : 'transaction manager recover() (private tm)';
  const recover = (): Promise<RecoveryReportLike> =>
    typeof facade.recover === 'function' ? facade.recover.call(pgm) : facade.tm!.recover();

  const startedAt = performance.now();
  loopDelay.reset(); // from here on: the workload's delays, not start-up's
  const endAt = startedAt + SOAK_MS;
  const faultEndAt = endAt - FAULT_TAIL_MS;
  let stopping = false;
  const stopped = () => stopping || performance.now() >= endAt;

  // ---- rows ----
  const rows: VersionedRow[] = [];
  const rowsOf = (schema: string, n: number, first: number) =>
    Array.from({ length: n }, (_, i) => {
      const row = new VersionedRow(schema, first + i, pgm.createSession());
      rows.push(row);
      return row;
    });
  const rywRows = [...rowsOf(KV_A, RYW_WORKERS_PER_CLUSTER, 1), ...rowsOf(KV_B, RYW_WORKERS_PER_CLUSTER, 1)];
  const cacheRows = [
    ...rowsOf(KV_A, CACHE_WRITERS_PER_CLUSTER, 1 + RYW_WORKERS_PER_CLUSTER),
    ...rowsOf(KV_B, CACHE_WRITERS_PER_CLUSTER, 1 + RYW_WORKERS_PER_CLUSTER),
  ];
  const READ_SQL = 'SELECT v FROM kv WHERE id = $1';

  /** Write the row's next version (its writer only); true when the write resolved. */
  const writeNext = async (row: VersionedRow): Promise<boolean> => {
    const v = ++row.next;
    try {
      await pgm.query('UPDATE kv SET v = GREATEST(v, $2) WHERE id = $1', [row.id, v], { schema: row.schema });
      writes.ok++;
      row.completed(v);
      return true;
    } catch (err) {
      writes.failed++;
      countError(writes.errors, err);
      return false;
    }
  };

  /** One read of `row`; stale when it returns less than `bound(start)`. */
  const checkedRead = async (
    kind: string,
    row: VersionedRow,
    options: QueryOptions,
    bound: (start: number) => number,
    strictBound?: (start: number) => number,
  ) => {
    const s = readStats(kind);
    const start = performance.now();
    const lower = bound(start);
    const strict = strictBound?.(start);
    try {
      const r = await pgm.query<{ v: string }>(READ_SQL, [row.id], { schema: row.schema, ...options });
      const got = Number(r.rows[0]?.v);
      s.ok++;
      if (!(got >= lower)) {
        s.stale++;
        if (s.examples.length < 3) {
          s.examples.push(
            `${row.schema}.kv#${row.id} got v${got}, expected >= v${lower} (+${Math.round(start - startedAt)} ms)`,
          );
        }
      }
      if (strict !== undefined && !(got >= strict)) s.staleWithoutAllowance = (s.staleWithoutAllowance ?? 0) + 1;
    } catch (err) {
      s.failed++;
      countError(s.errors, err);
    }
  };

  // ---- workers ----
  const transferWorker = async (i: number) => {
    const r = rng(SEED * 7919 + i);
    const inSession = i % 2 === 0;
    for (let n = 0; !stopped(); n++) {
      const tid = `w${i}-${n}`;
      const a = r.int(1, ACCOUNTS);
      const b = r.int(1, ACCOUNTS);
      const amount = r.int(1, 100) * (r.chance(0.5) ? 1 : -1);
      const outcome: Outcome = { source: 'worker', status: 'pending', inSession };
      outcomes.set(tid, outcome);
      const attempt = async () => {
        try {
          await pgm.withTransaction(
            [LEDGER_A, LEDGER_B],
            async (tx) => {
              outcome.txid = tx.id;
              await tx.query(MOVE_SQL, [a, amount, tid], { schema: LEDGER_A });
              await tx.query(MOVE_SQL, [b, -amount, tid], { schema: LEDGER_B });
            },
            { timeoutMs: TX_TIMEOUT_MS },
          );
        } catch (err) {
          outcome.status = 'rejected';
          outcome.code = errorCode(err);
          outcome.message = String((err as Error)?.message ?? err).slice(0, 300);
          return;
        }
        outcome.status = 'committed';
        if (!inSession) return;
        // Read-your-writes after a cross-cluster commit: both ledger rows, at session consistency.
        for (const schema of [LEDGER_A, LEDGER_B]) {
          const s = readStats('tx_session_uncached');
          try {
            const res = await pgm.query('SELECT 1 FROM transfers WHERE transfer_id = $1', [tid], {
              schema,
              consistency: 'session',
            });
            s.ok++;
            if (res.rows.length !== 1) {
              s.stale++;
              const pending = outcome.txid ? pendingRecovery.get(outcome.txid) : undefined;
              if (pending) s.stalePendingRecovery = (s.stalePendingRecovery ?? 0) + 1;
              if (s.examples.length < 3) {
                s.examples.push(
                  `${schema}.transfers ${tid} not found after its commit (+${Math.round(performance.now() - startedAt)} ms${pending ? `, COMMIT PREPARED left to recovery on ${pending.join(', ')}` : ''})`,
                );
              }
            }
          } catch (err) {
            s.failed++;
            countError(s.errors, err);
          }
        }
      };
      try {
        if (inSession) await pgm.runWithSession(attempt);
        else await attempt();
      } catch (err) {
        // runWithSession itself failed (not the transaction, whose errors are caught above)
        if (outcome.status === 'pending') {
          outcome.status = 'rejected';
          outcome.code = errorCode(err);
        }
      }
      // Back off after a rejection, as a client would: a refusal without I/O (e.g. NO_AVAILABLE_NODE
      // while the primary is marked down) resolves in microtasks, and a tight loop of those starves
      // the event loop, health monitor and proxies included.
      if (outcome.status !== 'committed') await sleep(r.int(10, 50));
    }
  };

  // Read-your-writes: write the next version, read it back at 'session', uncached and cached.
  const rywWorker = async (row: VersionedRow) => {
    while (!stopped()) {
      await pgm.runWithSession(async () => {
        for (let i = 0; i < 20 && !stopped(); i++) {
          if (!(await writeNext(row))) {
            await sleep(20);
            continue;
          }
          const own = () => row.lastCompleted;
          await checkedRead('ryw_session_uncached', row, { consistency: 'session' }, own);
          await checkedRead('ryw_session_cached', row, { consistency: 'session', cache: true }, own);
        }
      }, row.token);
    }
  };

  const cacheWriter = async (row: VersionedRow, r: Rng) => {
    while (!stopped()) {
      await pgm.runWithSession(() => writeNext(row), row.token);
      await sleep(r.int(2, 25));
    }
  };

  const LEVELS = ['strong', 'session', 'bounded', 'eventual', 'primary'] as const;
  const cacheReader = async (r: Rng) => {
    while (!stopped()) {
      const row = r.pick(rows);
      const level = r.pick(LEVELS);
      const cache = r.chance(0.6);
      const kind = `${level}_${cache ? 'cached' : 'uncached'}`;
      const latest = () => row.lastCompleted;
      switch (level) {
        case 'strong':
          await checkedRead(kind, row, { consistency: 'strong', cache }, latest);
          break;
        case 'primary':
          await checkedRead(kind, row, { role: 'primary', cache }, latest);
          break;
        case 'session':
          // The writer's session, carried to another "request" with its token.
          await checkedRead(kind, row, { consistency: 'session', sessionToken: row.token, cache }, latest);
          break;
        case 'bounded':
          await checkedRead(
            kind,
            row,
            { consistency: 'bounded', maxLagMs: MAX_LAG_MS, cache },
            (start) => row.completedBy(start - MAX_LAG_MS - boundedAllowance()),
            (start) => row.completedBy(start - MAX_LAG_MS),
          );
          break;
        case 'eventual':
          await checkedRead(kind, row, { consistency: 'eventual', cache }, () => 0);
          break;
      }
      await sleep(r.int(0, 4)); // cache hits never touch I/O: yield so timers and sockets keep running
    }
  };

  const replicaReader = async (r: Rng) => {
    const s = readStats('replica_eventual');
    while (!stopped()) {
      try {
        await pgm.query('SELECT count(*)::int AS n, sum(balance)::bigint AS s FROM accounts', [], {
          schema: r.chance(0.5) ? LEDGER_A : LEDGER_B,
          consistency: 'eventual',
        });
        s.ok++;
      } catch (err) {
        s.failed++;
        countError(s.errors, err);
      }
      await sleep(r.int(0, 10));
    }
  };

  // ---- faults ----
  const replicas = [...A.replicas, ...B.replicas];
  const allNodes = topo.nodes;
  const faultRng = rng(SEED);
  /** Wait `ms`, but not past the end of the workload (a fault never outlives it by much). */
  const hold = (ms: number) => sleep(Math.max(0, Math.min(ms, endAt - performance.now())));
  const guarded = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      if (faultErrors.length < 10) faultErrors.push(`${what}: ${String((err as Error)?.message ?? err).slice(0, 200)}`);
    }
  };

  // Lane 1: replica faults, one at a time: killed and restarted, or replay paused and resumed.
  const replicaLane = async () => {
    const r = rng(faultRng.int(1, 2 ** 30));
    await hold(WARMUP_MS);
    while (performance.now() < faultEndAt) {
      const node = r.pick(replicas);
      if (r.chance(0.5)) {
        faults.replica_kill++;
        log(`fault: kill ${node.key}`);
        await guarded(`kill ${node.key}`, () => stopFor(node, r.int(1000, 4000)));
      } else {
        faults.replay_pause++;
        log(`fault: pause replay on ${node.key}`);
        await guarded(`pause ${node.key}`, async () => {
          await node.pauseReplay();
          try {
            await hold(r.int(1500, 5000));
          } finally {
            await node.resumeReplay();
          }
        });
      }
      await hold(r.int(500, 3000));
    }
  };

  // Lane 2: proxies refusing briefly (any node), and PRIMARY_RESTARTS primary restarts at fixed fractions.
  const networkLane = async () => {
    const r = rng(faultRng.int(1, 2 ** 30));
    const restartAt = Array.from(
      { length: PRIMARY_RESTARTS },
      (_, k) => startedAt + ((k + 1) / (PRIMARY_RESTARTS + 1)) * SOAK_MS,
    );
    await hold(WARMUP_MS);
    while (performance.now() < faultEndAt) {
      if (restartAt.length > 0 && performance.now() >= restartAt[0]!) {
        restartAt.shift();
        const primary = r.pick([A.primary, B.primary]);
        faults.primary_restart++;
        log(`fault: restart ${primary.key}`);
        await guarded(`restart ${primary.key}`, () => stopFor(primary, r.int(300, 1500)));
      } else {
        const node = r.pick(allNodes);
        faults.proxy_refuse++;
        log(`fault: proxy of ${node.key} refuses`);
        node.proxy.refuse();
        try {
          await hold(r.int(200, 1500));
        } finally {
          node.proxy.restore();
        }
      }
      await hold(r.int(1000, 4000));
    }
  };

  // Lane 3: a coordinator process killed mid-commit, then recovery.
  const coordinatorLane = async () => {
    const r = rng(faultRng.int(1, 2 ** 30));
    await hold(WARMUP_MS);
    // A child needs a few seconds to start on a busy machine: none is started that close to the end.
    for (let k = 0; performance.now() < faultEndAt - 8000; k++) {
      const plan = r.pick(CRASH_PLANS);
      await crashCoordinator(k, plan, r.int(0, 3), r.int(1, 2 ** 30));
      const report = await recover();
      crashes.recovery_after_kill.ran += report.ran ? 1 : 0;
      crashes.recovery_after_kill.committed += report.committed;
      crashes.recovery_after_kill.rolled_back += report.rolledBack;
      crashes.recovery_after_kill.waiting += report.waiting;
      await hold(r.int(2000, 6000));
    }
  };

  const crashCoordinator = async (k: number, plan: CrashPlan, armAfter: number, seed: number) => {
    const spec: ChildSpec = {
      config: topo.config as ChildSpec['config'],
      prefix: `c${k}`,
      plan,
      armAfter,
      accounts: ACCOUNTS,
      seed,
      safeAgeMs: SAFE_AGE_MS,
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'child.ts'], {
      cwd: here,
      env: { ...process.env, PGM_SOAK_CHILD: JSON.stringify(spec), TSX_TSCONFIG_PATH: `${here}tsconfig.json` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr = (stderr + String(d)).slice(-2000);
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const mine: string[] = [];
    let paused = false;
    let ready = false;
    const spawnedAt = performance.now();
    let startError = '';
    // Killed anyway when it never reaches its pause (e.g. every armed attempt failed under other faults).
    const timer = setTimeout(
      () => child.kill('SIGKILL'),
      Math.max(1000, Math.min(CHILD_TIMEOUT_MS, endAt - performance.now())),
    );
    for await (const line of createInterface({ input: child.stdout })) {
      const [word, id, code] = line.split(' ');
      if (word === 'READY') {
        ready = true;
        crashes.child_ready_ms_max = Math.max(crashes.child_ready_ms_max, Math.round(performance.now() - spawnedAt));
      } else if (word === 'START' && id) {
        outcomes.set(id, { source: 'child', status: 'pending' });
        mine.push(id);
      } else if (word === 'OK' && id) outcomes.get(id)!.status = 'committed';
      else if (word === 'ERR' && id) Object.assign(outcomes.get(id)!, { status: 'rejected', code });
      else if (word === 'UNHANDLED') crashes.child_unhandled++;
      else if (word === 'FAILED') startError = line.slice(7);
      else if (word === 'PAUSED') {
        paused = true;
        child.kill('SIGKILL');
      }
    }
    clearTimeout(timer);
    await exited;
    if (!ready) {
      crashes.child_start_failed++;
      const why = startError || stderr.trim().split('\n').slice(-3).join(' | ') || 'killed before READY';
      if (crashes.child_start_errors.length < 5) crashes.child_start_errors.push(why.slice(0, 300));
      log(`coordinator child ${k} did not start: ${why}`);
      return;
    }
    faults.coordinator_kill++;
    crashes.by_plan[plan] = (crashes.by_plan[plan] ?? 0) + 1;
    if (paused) crashes.paused++;
    else crashes.killed_without_pause++;
    for (const id of mine) if (outcomes.get(id)!.status === 'pending') outcomes.get(id)!.status = 'killed';
    log(`fault: coordinator ${k} killed ${paused ? `mid-commit (${plan})` : 'without reaching its pause'}`);
  };

  // ---- run ----
  log('workload running');
  // Workers and lanes catch what the library throws; anything escaping them is a bug of the
  // soak itself, kept apart from the library's unhandled rejections.
  const own = (p: Promise<unknown>) =>
    p.catch((err) => {
      soakErrors.push(String((err as Error)?.stack ?? err).slice(0, 400));
    });
  const workers = [
    ...Array.from({ length: TRANSFER_WORKERS }, (_, i) => transferWorker(i)),
    ...rywRows.map((row) => rywWorker(row)),
    ...cacheRows.map((row, i) => cacheWriter(row, rng(SEED * 31 + i))),
    ...Array.from({ length: CACHE_READERS }, (_, i) => cacheReader(rng(SEED * 131 + i))),
    ...Array.from({ length: REPLICA_READERS }, (_, i) => replicaReader(rng(SEED * 1031 + i))),
  ].map(own);
  const lanes = [replicaLane(), networkLane(), coordinatorLane()].map(own);
  await sleep(SOAK_MS);
  stopping = true;
  await Promise.all(lanes);
  await Promise.all(workers);
  const workloadMs = Math.round(performance.now() - startedAt);
  log('workload stopped; healing');

  // ---- heal ----
  for (const node of allNodes) {
    node.proxy.restore();
    if (!node.running) await guarded(`heal start ${node.key}`, () => node.start());
  }
  for (const node of replicas) await guarded(`heal resume ${node.key}`, () => node.resumeReplay());
  const healStart = performance.now();
  let nodesDown: string[] = [];
  for (;;) {
    const health = await pgm.healthCheck();
    nodesDown = Object.entries(health).flatMap(([c, h]) =>
      Object.entries(h.nodes)
        .filter(([, n]) => !n.healthy)
        .map(([id]) => `${c}/${id}`),
    );
    if (nodesDown.length === 0 || performance.now() - healStart > 60_000) break;
    await sleep(500);
  }
  const healMs = Math.round(performance.now() - healStart);

  // ---- recovery ----
  log('recovery');
  const recoveryStart = performance.now();
  const recovery = { via: recoverVia, runs: 0, committed: 0, rolled_back: 0, ms: 0 };
  const primaries = [A.primary, B.primary];
  const preparedLeft = async () => {
    const out: Record<string, number> = {};
    for (const p of primaries) {
      out[p.key] = (await p.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_prepared_xacts')).rows[0]!.n;
    }
    return out;
  };
  let prepared = await preparedLeft();
  // Prepared transactions without a decision are rolled back once older than safeAgeMs.
  for (;;) {
    const report = await recover();
    recovery.runs++;
    recovery.committed += report.committed;
    recovery.rolled_back += report.rolledBack;
    prepared = await preparedLeft();
    if (Object.values(prepared).every((n) => n === 0)) break;
    if (performance.now() - recoveryStart > SAFE_AGE_MS + 20_000) break;
    await sleep(500);
  }
  recovery.ms = Math.round(performance.now() - recoveryStart);

  // ---- checks ----
  log('checking invariants');
  const ledger = async (node: NodeHandle, schema: string) => {
    const balances = (
      await node.query<{ id: number; balance: string }>(`SELECT id, balance FROM ${schema}.accounts`)
    ).rows.map((r) => ({ id: r.id, balance: Number(r.balance) }));
    const entries = (
      await node.query<{ transfer_id: string; account: number; delta: string }>(
        `SELECT transfer_id, account, delta FROM ${schema}.transfers`,
      )
    ).rows.map((r) => ({ id: r.transfer_id, account: r.account, delta: Number(r.delta) }));
    // Every balance must equal its start plus its ledger rows.
    const perAccount = new Map<number, number>();
    for (const e of entries) perAccount.set(e.account, (perAccount.get(e.account) ?? 0) + e.delta);
    const mismatched = balances.filter((b) => b.balance !== INITIAL_BALANCE + (perAccount.get(b.id) ?? 0)).length;
    return { total: balances.reduce((s, b) => s + b.balance, 0), ids: new Set(entries.map((e) => e.id)), mismatched };
  };
  const la = await ledger(A.primary, LEDGER_A);
  const lb = await ledger(B.primary, LEDGER_B);
  const actualTotal = la.total + lb.total;

  const t = {
    attempted: 0,
    committed: 0,
    rejected: 0,
    rejected_by_code: {} as Record<string, number>,
    rejected_examples: {} as Record<string, string>,
    in_doubt: 0,
    in_doubt_committed: 0,
    in_doubt_rolled_back: 0,
    rejected_but_committed: 0,
    rejected_but_committed_by_code: {} as Record<string, number>,
    rejected_but_committed_in_session: 0,
    committed_but_missing: 0,
    half_committed: 0,
    committed_pending_recovery: 0,
    killed_mid_commit: 0,
    killed_then_committed: 0,
    killed_then_rolled_back: 0,
    child_transfers: 0,
    unaccounted: 0,
  };
  const examples: Record<string, string[]> = {};
  const example = (what: string, text: string) => {
    const list = (examples[what] ??= []);
    if (list.length < 3) list.push(text);
  };
  for (const [tid, o] of outcomes) {
    const inA = la.ids.has(tid);
    const inB = lb.ids.has(tid);
    t.attempted++;
    if (o.source === 'child') t.child_transfers++;
    if (inA !== inB) {
      t.half_committed++;
      example(
        'half_committed',
        `${tid} (${o.source}, ${o.status}${o.code ? ` ${o.code}` : ''}) only in ${inA ? LEDGER_A : LEDGER_B}`,
      );
    }
    const both = inA && inB;
    switch (o.status) {
      case 'committed':
        t.committed++;
        if (o.txid && pendingRecovery.has(o.txid)) t.committed_pending_recovery++;
        if (!both) {
          t.committed_but_missing++;
          example('committed_but_missing', `${tid} (${o.source})`);
        }
        break;
      case 'rejected':
        t.rejected++;
        t.rejected_by_code[o.code ?? 'unknown'] = (t.rejected_by_code[o.code ?? 'unknown'] ?? 0) + 1;
        if (o.message && !t.rejected_examples[o.code ?? 'unknown'])
          t.rejected_examples[o.code ?? 'unknown'] = o.message;
        if (o.code?.startsWith('TRANSACTION_IN_DOUBT')) {
          t.in_doubt++;
          if (both) t.in_doubt_committed++;
          else t.in_doubt_rolled_back++;
        } else if (both) {
          t.rejected_but_committed++;
          const c = o.code ?? 'unknown';
          t.rejected_but_committed_by_code[c] = (t.rejected_but_committed_by_code[c] ?? 0) + 1;
          if (o.inSession) t.rejected_but_committed_in_session++;
          example('rejected_but_committed', `${tid} ${o.code}: ${o.message ?? ''}`);
        }
        break;
      case 'killed':
        t.killed_mid_commit++;
        if (both) t.killed_then_committed++;
        else t.killed_then_rolled_back++;
        break;
      case 'pending':
        t.unaccounted++;
        break;
    }
  }

  const stale: Record<string, number> = {};
  for (const [kind, s] of Object.entries(reads)) if (kind !== 'replica_eventual') stale[kind] = s.stale;
  const totalStale = Object.values(stale).reduce((s, n) => s + n, 0);
  const preparedTotal = Object.values(prepared).reduce((s, n) => s + n, 0);

  const invariants = {
    totals_exact: actualTotal === expectedTotal,
    balances_match_ledgers: la.mismatched + lb.mismatched === 0,
    no_half_committed: t.half_committed === 0,
    no_rejected_but_committed: t.rejected_but_committed === 0,
    no_committed_but_missing: t.committed_but_missing === 0,
    no_prepared_left: preparedTotal === 0,
    no_stale_reads: totalStale === 0,
    no_unhandled_rejections: unhandledRejections + uncaughtExceptions + crashes.child_unhandled === 0,
    all_nodes_up_after_heal: nodesDown.length === 0,
    workload_ran: t.committed > 0 && faults.coordinator_kill > 0 && t.unaccounted === 0 && soakErrors.length === 0,
  };
  const failed = Object.entries(invariants)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
  const metrics = pgm.getMetrics();
  loopDelay.disable();
  await pgm.close();

  const result = {
    soak: 'mixed-faults',
    ok: failed.length === 0,
    failed,
    seed: SEED,
    soak_ms: SOAK_MS,
    workload_ms: workloadMs,
    heal_ms: healMs,
    total_ms: Math.round(performance.now() - t0),
    topology: { [CLUSTER_A]: { replicas: A.replicas.length }, [CLUSTER_B]: { replicas: B.replicas.length } },
    settings: {
      transfer_workers: TRANSFER_WORKERS,
      ryw_workers: rywRows.length,
      cache_writers: cacheRows.length,
      cache_readers: CACHE_READERS,
      replica_readers: REPLICA_READERS,
      health_check_interval_ms: HEALTH_INTERVAL_MS,
      health_check_timeout_ms: HEALTH_TIMEOUT_MS,
      max_lag_ms: MAX_LAG_MS,
      bounded_allowance_ms: `${BOUNDED_ALLOWANCE_MS} + worst event-loop delay`,
      safe_age_ms: SAFE_AGE_MS,
      tx_timeout_ms: TX_TIMEOUT_MS,
    },
    invariants,
    totals: {
      expected: expectedTotal,
      actual: actualTotal,
      accounts_not_matching_ledger: la.mismatched + lb.mismatched,
    },
    transfers: t,
    stale,
    reads: Object.fromEntries(
      Object.entries(reads)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([kind, s]) => [
          kind,
          {
            ok: s.ok,
            failed: s.failed,
            stale: s.stale,
            ...(s.staleWithoutAllowance !== undefined ? { stale_without_allowance: s.staleWithoutAllowance } : {}),
            ...(s.stalePendingRecovery !== undefined ? { stale_pending_recovery: s.stalePendingRecovery } : {}),
            ...(Object.keys(s.errors).length ? { errors: s.errors } : {}),
            ...(s.examples.length ? { examples: s.examples } : {}),
          },
        ]),
    ),
    writes,
    faults: { ...faults, total: Object.values(faults).reduce((s, n) => s + n, 0), errors: faultErrors },
    coordinator_crashes: crashes,
    events,
    failure_detection: {
      stops: detection.stops,
      detected_down: detection.detected_down,
      ...summary(detection.down_ms),
      restarts_after_detected_down: detection.restarts,
      detected_up: detection.detected_up,
      up: summary(detection.up_ms),
    },
    recovery: { ...recovery, prepared_left: prepared },
    nodes_down_after_heal: nodesDown,
    cache: { ...metrics.cache, errors: cacheErrors },
    unhandled_rejections: unhandledRejections,
    uncaught_exceptions: uncaughtExceptions,
    ...(unhandledSamples.length ? { unhandled_samples: unhandledSamples } : {}),
    examples,
    ...(soakErrors.length ? { soak_errors: soakErrors } : {}),
    event_loop_delay_max_ms: Math.round(loopDelayMaxMs()),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  log(failed.length === 0 ? 'all invariants hold' : `invariants failed: ${failed.join(', ')}`);
  return failed.length === 0 ? 0 : 1;
}

interface RecoveryReportLike {
  ran: boolean;
  committed: number;
  rolledBack: number;
  waiting: number;
}
