import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgMultiverse } from '../src/index.js';
import {
  CLUSTER,
  expectConsistent,
  type Harness,
  keysIn,
  leftovers,
  PARTITIONS,
  partitionOf,
  percentile,
  SCHEMA,
  startHarness,
  storedMap,
  until,
} from './fixtures/move-harness.js';
import { startLoad } from './fixtures/move-load.js';

// Issue 19: partitions move online from two shard servers to a third one added later, under
// continuous load (8 writers inserting and updating keys of the moving partitions, 8 readers),
// on real servers with streaming replicas and logical replication.
const HOLD_TIMEOUT_MS = 15_000;
let h: Harness;

beforeAll(async () => {
  h = await startHarness({ replicas: 1 });
});

afterAll(async () => {
  await h?.stop();
});

/** Rows for every partition, written straight to their owners and to the control copy. */
async function seed(keys: number[], owners: readonly string[]): Promise<void> {
  const byOwner = new Map<string, number[]>();
  for (const k of keys) byOwner.set(owners[partitionOf(k)]!, [...(byOwner.get(owners[partitionOf(k)]!) ?? []), k]);
  for (const [owner, ks] of byOwner) {
    await h.admin[owner]!.query(
      `INSERT INTO ${SCHEMA}.orders (user_id, id, v, note) SELECT k, g, 0, repeat('x', 40) FROM unnest($1::int8[]) AS k, generate_series(1, 20) AS g`,
      [ks],
    );
  }
  await h.control.query(
    `INSERT INTO ${SCHEMA}.orders (user_id, id, v, note) SELECT k, g, 0, repeat('x', 40) FROM unnest($1::int8[]) AS k, generate_series(1, 20) AS g`,
    [keys],
  );
}

describe('movePartitions: a third server added, partitions moved under load', () => {
  it('copies, cuts over and cleans up with no write lost, duplicated or sent to the old owner', async () => {
    // Two shard servers, the schema from the migrations, rows in every partition.
    const first = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
    await first.initialize(h.config2);
    await first.migrate();
    await first.close();
    await seed(
      Array.from({ length: 400 }, (_, i) => i + 1),
      Array.from({ length: PARTITIONS }, (_, p) => `shard-${p % 2}`),
    );

    // The third server is added (no partitions): its schema comes from the move.
    const pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
    await pgm.initialize(h.config3);
    try {
      const moving = [2, 5]; // one from each source
      const progress: number[] = [];
      const states: Array<{ state: string; at: number; id: string }> = [];
      pgm.on('moveProgress', (p) => progress.push(p.rowsCopied));
      pgm.on('moveStateChanged', (m) => states.push({ state: m.state, at: performance.now(), id: m.id }));
      const load = startLoad(pgm, h.control, { writers: 8, readers: 8, keys: keysIn(moving, 64, 10_000) });
      // Conditions, not durations (a loaded machine may take seconds per write): the load runs before the move.
      await until(() => load.progress().writes.length >= 8, 'writes before the move');
      const report = await pgm.movePartitions({
        cluster: CLUSTER,
        partitions: moving,
        to: 'shard-2',
        holdTimeoutMs: HOLD_TIMEOUT_MS,
        progressIntervalMs: 200,
        cleanupDelayMs: 1000,
      });
      // Writes go on after the cutover, on the new owner; enough of them and of reads for the checks below.
      const afterMove = performance.now();
      await until(() => {
        const p = load.progress();
        return (
          p.writes.some((w) => w.startMs > afterMove && w.port === h.serverPort['shard-2']) &&
          p.writes.length > 50 &&
          p.reads > 50
        );
      }, 'writes on the new owner after the move');
      const result = await load.stop();

      expect(report.moves.map((m) => [m.source, m.partitions])).toEqual([
        ['shard-0', [2]],
        ['shard-1', [5]],
      ]);
      expect(report.moves.every((m) => m.state === 'done' && m.deletedFromSource > 0)).toBe(true);
      expect(progress.length).toBeGreaterThan(0);
      // Every write acknowledged, each session read saw its own write, every read answered.
      expect(result.errors).toEqual([]);
      expect(result.refused).toBe(0);
      expect(result.rywViolations).toEqual([]);
      expect(result.readErrors).toEqual([]);
      expect(result.writes.length).toBeGreaterThan(50);
      expect(result.reads).toBeGreaterThan(50);

      // No write reached the old owner after the cutover, and writes went to the new one.
      for (const m of report.moves) {
        const committedAt = states.find((s) => s.id === m.id && s.state === 'committed')!.at;
        const late = result.writes.filter(
          (w) => m.partitions.includes(w.partition) && w.startMs > committedAt && w.port !== h.serverPort['shard-2'],
        );
        expect(late).toEqual([]);
      }
      expect(result.writes.some((w) => w.port === h.serverPort['shard-2'])).toBe(true);

      // The hold on writes: each cutover's length, and the latency of writes issued while it lasted.
      const held: number[] = [];
      for (const m of report.moves) {
        // The engine reports the hold's window on the same clock (epoch ms with fractions).
        const { from, to } = m.cutover.window;
        for (const w of result.writes) {
          const at = performance.timeOrigin + w.startMs;
          if (m.partitions.includes(w.partition) && at >= from && at <= to) held.push(w.endMs - w.startMs);
        }
      }
      held.sort((a, b) => a - b);
      const holds = report.moves.map((m) => m.cutover.holdMs);
      console.log(
        `write hold: cutovers ${holds.map((x) => x.toFixed(1)).join(', ')} ms; writes issued during a hold: n=${held.length} p50=${percentile(held, 50).toFixed(1)} ms p99=${percentile(held, 99).toFixed(1)} ms (holdTimeoutMs ${HOLD_TIMEOUT_MS})`,
      );
      for (const x of holds) expect(x).toBeLessThanOrEqual(HOLD_TIMEOUT_MS);
      expect(percentile(held, 99)).toBeLessThanOrEqual(HOLD_TIMEOUT_MS);

      // Every row on exactly the shard the new map names; counts and checksums equal the control copy.
      const owners = await expectConsistent(h);
      expect(moving.map((p) => owners[p])).toEqual(['shard-2', 'shard-2']);
    } finally {
      await pgm.close();
    }
  });

  it('rebalance: the dry run prints the plan, the run spreads the partitions evenly', async () => {
    const pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
    await pgm.initialize(h.config3);
    try {
      const dry = await pgm.rebalance({ cluster: CLUSTER, servers: ['shard-1', 'shard-2'], dryRun: true });
      expect(dry.dryRun).toBe(true);
      expect(dry.moves).toEqual([]);
      expect(dry.plan.after).toEqual({ 'shard-0': 0, 'shard-1': 4, 'shard-2': 4 });
      expect(dry.text).toMatch(/shard-0: 3 -> 0 partitions/);
      expect(dry.text).toMatch(/move [\d,]+ from shard-0 to shard-1/);
      // Nothing moved by the dry run.
      expect((await storedMap(h)).owners.filter((o) => o === 'shard-0')).toHaveLength(3);

      const load = startLoad(pgm, h.control, { writers: 2, readers: 2, keys: keysIn([0, 4, 6], 16, 20_000) });
      const run = await pgm.rebalance({
        cluster: CLUSTER,
        servers: ['shard-1', 'shard-2'],
        holdTimeoutMs: HOLD_TIMEOUT_MS,
        cleanupDelayMs: 500,
      });
      const result = await load.stop();
      expect(result.errors).toEqual([]);
      expect(result.rywViolations).toEqual([]);
      expect(run.moves.flatMap((r) => r.moves).length).toBe(dry.plan.moves.length);
      const owners = await expectConsistent(h);
      expect(owners.filter((o) => o === 'shard-1')).toHaveLength(4);
      expect(owners.filter((o) => o === 'shard-2')).toHaveLength(4);
    } finally {
      await pgm.close();
    }
  });

  it('refuses bad input with errors that say what to do', async () => {
    const pgm = new PgMultiverse();
    await pgm.initialize(h.config3);
    try {
      const bad = async (o: Parameters<PgMultiverse['movePartitions']>[0]) => pgm.movePartitions(o).catch((e) => e);
      expect((await bad({ cluster: CLUSTER, partitions: [8], to: 'shard-2' })).message).toMatch(
        /not an integer in \[0, 8\)/,
      );
      expect((await bad({ cluster: CLUSTER, partitions: [1], to: 'shard-9' })).message).toMatch(
        /no shard "shard-9".*shard-0, shard-1, shard-2/,
      );
      expect((await bad({ cluster: 'nope', partitions: [1], to: 'shard-2' })).code).toBe('UNKNOWN_CLUSTER');
      const unknownOption = await bad({ cluster: CLUSTER, partitions: [1], to: 'shard-2', holdTimeout: 5 } as never);
      expect(unknownOption.message).toMatch(/unknown option "holdTimeout"/);

      // A table whose replica identity lacks the shard key: refused before anything is created.
      await h.admin['shard-1']!.query(`CREATE TABLE ${SCHEMA}.no_key_identity (user_id int8, note text)`);
      try {
        const refused = await bad({ cluster: CLUSTER, partitions: [1], to: 'shard-2' });
        expect(refused.code).toBe('MOVE_REFUSED');
        expect(refused.message).toMatch(
          /no_key_identity: its replica identity must include "user_id".*REPLICA IDENTITY FULL/,
        );
        expect(await leftovers(h)).toEqual([]);
        const unfinished = await h.admin['shard-0']!.query(
          "SELECT count(*)::int AS n FROM pgm_reshard.moves WHERE state NOT IN ('done', 'rolled_back')",
        );
        expect(unfinished.rows[0]!.n).toBe(0);
      } finally {
        await h.admin['shard-1']!.query(`DROP TABLE ${SCHEMA}.no_key_identity`);
      }
    } finally {
      await pgm.close();
    }
  });

  it('pgm move / rebalance: the binary prints the plan, a progress bar and the result, never the password', async () => {
    // Every node through the password role: the subscription's connection string holds the password.
    const { user, password } = h.topo.passwordRole;
    const withPassword = JSON.parse(JSON.stringify(h.config3), (k, v) =>
      k === 'user' && v === 'postgres' ? user : v,
    ) as typeof h.config3;
    const nodes = JSON.stringify(withPassword).replaceAll(
      `"user":"${user}"`,
      `"user":"${user}","password":"${password}"`,
    );
    const dir = await mkdtemp(join(tmpdir(), 'pgm-move-cli-'));
    try {
      await writeFile(
        join(dir, 'pgm.config.json'),
        JSON.stringify({ clusters: JSON.parse(nodes), migrations: { migrationsPath: h.migrationsDir } }),
      );
      const bin = fileURLToPath(new URL('../dist/bin.js', import.meta.url));
      // Asynchronously: the testkit's proxies run in this process and must keep forwarding.
      const pgmCli = (...args: string[]) =>
        new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
          execFile(
            process.execPath,
            [bin, ...args],
            { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
            (err, stdout, stderr) =>
              resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
          );
        });

      const dry = await pgmCli('rebalance', '--cluster', CLUSTER, '--servers', 'shard-0,shard-1,shard-2', '--dry-run');
      expect(dry.status, dry.stderr).toBe(0);
      expect(dry.stdout).toMatch(/Rebalance of orders \(map version \d+\) over shard-0, shard-1, shard-2/);
      expect(dry.stdout).toMatch(/shard-0: 0 -> 2 partitions/);

      const moved = await pgmCli(
        'move',
        '--cluster',
        CLUSTER,
        '--partitions',
        '7',
        '--to',
        'shard-0',
        '--cleanup-delay',
        '500',
      );
      expect(moved.status, moved.stderr).toBe(0);
      expect(moved.stdout).toMatch(
        /moved partitions 7 of orders from shard-\d to shard-0: \d+ rows, writes held [\d.]+ ms/,
      );
      expect(moved.stderr).toMatch(/\[[#.]{24}\] +\d+% shard-\d -> shard-0 (copy|catch-up): \d+\/\d+ rows/);
      expect(moved.stderr).toMatch(/copying -> fencing/);
      expect(`${moved.stdout}${moved.stderr}`).not.toContain(password);
      expect((await storedMap(h)).owners[7]).toBe('shard-0');

      const json = await pgmCli('recover-moves', '--cluster', CLUSTER, '--json');
      expect(json.status, json.stderr).toBe(0);
      expect(JSON.parse(json.stdout)).toEqual({ command: 'recover-moves', recovered: [] });

      const usage = await pgmCli('move', '--cluster', CLUSTER, '--to', 'shard-0');
      expect(usage.status).toBe(2);
      expect(usage.stderr).toMatch(/--partitions and --to are required/);
      await expectConsistent(h);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a cutover that overruns holdTimeoutMs aborts the move, never the writes', async () => {
    const pgm = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath: h.migrationsDir } });
    await pgm.initialize(h.config3);
    try {
      const before = await storedMap(h);
      const partition = before.owners.indexOf('shard-1');
      const aborted: string[] = [];
      pgm.on('cutoverAborted', (e) => aborted.push(e.reason));
      const load = startLoad(pgm, h.control, { writers: 4, readers: 2, keys: keysIn([partition], 16, 30_000) });
      await until(() => load.progress().writes.length > 0, 'writes before the move');
      // 1 ms cannot hold a fence, a catch-up and a commit: every attempt gives up.
      const err = await pgm
        .movePartitions({
          cluster: CLUSTER,
          partitions: [partition],
          to: 'shard-2',
          holdTimeoutMs: 1,
          cutoverAttempts: 2,
        })
        .catch((e) => e);
      const written = load.progress().writes.length;
      await until(() => load.progress().writes.length > written, 'writes after the aborted move');
      const result = await load.stop();
      expect(err.code).toBe('MOVE_CUTOVER_TIMEOUT');
      expect(err.message).toMatch(/aborted 2 times.*rolled back.*held write went to the source/);
      expect(aborted).toHaveLength(2);
      // No write failed or was lost; the source still owns the partition, nothing is left behind.
      expect(result.errors).toEqual([]);
      expect(result.refused).toBe(0);
      expect(result.rywViolations).toEqual([]);
      expect(result.writes.length).toBeGreaterThan(0);
      const owners = await expectConsistent(h);
      expect(owners[partition]).toBe('shard-1');
    } finally {
      await pgm.close();
    }
  });
});
