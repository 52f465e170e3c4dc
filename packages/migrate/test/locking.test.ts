import { type ChildProcess, spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LockEvent } from '../src/index.js';
import { type Sandbox, sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

const RUNNER = join(import.meta.dirname, 'fixtures', 'run-migrate.ts');

function runner(env: Record<string, string>): {
  child: ChildProcess;
  out: Promise<{ code: number | null; lines: string[] }>;
  ready: Promise<void>;
} {
  const child = spawn(process.execPath, ['--import', 'tsx', RUNNER], {
    env: {
      ...process.env,
      PGM_CLUSTERS: JSON.stringify(sb.clusters),
      PGM_DIR: sb.dir,
      PGM_CONTROL: sb.controlSchema,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: join(import.meta.dirname, '..'), // resolves tsx from this package
  });
  let buf = '';
  let err = '';
  let onReady!: () => void;
  let onExit!: (e: Error) => void;
  const ready = new Promise<void>((r, j) => {
    onReady = r;
    onExit = j;
  });
  child.stdout!.on('data', (d) => {
    buf += d;
    if (buf.includes('ready\n')) onReady();
  });
  child.stderr!.on('data', (d) => (err += d));
  const out = new Promise<{ code: number | null; lines: string[] }>((resolve) =>
    child.on('close', (code) => {
      if (code !== 0 && code !== null) console.error(err);
      onExit(new Error(`runner exited (${code}) before it was ready: ${err}`));
      resolve({ code, lines: buf.trim().split('\n') });
    }),
  );
  return { child, out, ready };
}

const until = async (cond: () => Promise<boolean>) => {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
};

describe('locking', () => {
  it('5 processes migrating the same targets at once: every migration applied exactly once per target', async () => {
    for (let i = 1; i <= 6; i++) {
      await sb.write(
        `2024010100000${i}_m${i}.sql`,
        `-- pgm:targetSchemas ${sb.u1},${sb.u2},${sb.c1}\n-- up\nCREATE TABLE t${i} (id int);\nINSERT INTO t${i} VALUES (${i});\nSELECT pg_sleep(0.02);\n-- down\nDROP TABLE t${i};\n`,
      );
    }
    const barrier = join(sb.dir, 'go');
    const runs = Array.from({ length: 5 }, (_, i) => runner({ PGM_BARRIER: barrier, PGM_PARALLEL: i % 2 ? '1' : '0' }));
    await Promise.all(runs.map((r) => r.ready));
    await writeFile(barrier, '');
    const outs = await Promise.all(runs.map((r) => r.out));
    const reports = outs.map((o) => JSON.parse(o.lines[o.lines.length - 1]!));
    expect(outs.map((o) => o.code)).toEqual([0, 0, 0, 0, 0]);
    expect(reports.every((r) => r.failed === 0 && !r.error)).toBe(true);
    expect(reports.reduce((n, r) => n + r.applied, 0)).toBe(18);
    expect(reports.reduce((n, r) => n + r.waited, 0)).toBeGreaterThan(0);
    for (const [c, s] of [
      ['users_cluster', sb.u1],
      ['users_cluster', sb.u2],
      ['commerce_cluster', sb.c1],
    ] as const) {
      expect((await sb.history(c, s)).map((r) => r.version.slice(-2))).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
      const n = await sb.admin[c].query(
        `SELECT (SELECT count(*) FROM "${s}".t1) + (SELECT count(*) FROM "${s}".t6) AS n`,
      );
      expect(Number(n.rows[0].n)).toBe(2);
    }
  });

  it('a runner that cannot get the lock within lockTimeout reports the holder; status shows it', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inside!: () => void;
    const entered = new Promise<void>((r) => (inside = r));
    const a = sb.manager({ holder: 'runner-A' });
    a.addMigration({
      version: '20240101000001_slow',
      targetSchemas: [sb.u1],
      async up(ctx) {
        inside();
        await gate;
        await ctx.query('CREATE TABLE slow (id int)');
      },
    });
    const running = a.migrate();
    await entered;
    const b = sb.manager({ lockTimeout: 200 });
    b.addMigration({ version: '20240101000001_slow', targetSchemas: [sb.u1], up: async () => {} });
    const waiting: LockEvent[] = [];
    b.on('lockWaiting', (e) => waiting.push(e));
    await expect(b.migrate()).rejects.toMatchObject({
      code: 'MIGRATION_LOCK_TIMEOUT',
      message: expect.stringMatching(new RegExp(`users_cluster/${sb.u1}.*runner-A`)),
    });
    expect(waiting[0]).toMatchObject({
      cluster: 'users_cluster',
      schema: sb.u1,
      holder: expect.stringContaining('runner-A'),
    });
    const status = await b.getStatus({ targetSchemas: [sb.u1] });
    expect(status.targets[0]!.lockedBy).toMatchObject({ holder: 'runner-A', pid: process.pid });
    release();
    expect((await running).applied).toBe(1);
    expect((await b.getStatus({ targetSchemas: [sb.u1] })).targets[0]!.lockedBy).toBeUndefined();
  });

  it('a killed runner leaves no lock behind', async () => {
    await sb.write(
      '20240101000001_sleepy.sql',
      `-- pgm:targetSchemas ${sb.c1}\n-- up\nCREATE TABLE sleepy (id int);\nSELECT pg_sleep(0.5);\n`,
    );
    const r = runner({});
    await until(async () => {
      const x = await sb.admin.commerce_cluster
        .query(`SELECT holder FROM "${sb.controlSchema}".pg_multiverse_migration_locks WHERE schema_name = $1`, [sb.c1])
        .catch(() => ({ rows: [] }));
      return x.rows.length > 0;
    });
    r.child.kill('SIGKILL');
    await r.out;
    const mm = sb.manager({ lockTimeout: 30_000 });
    const res = await mm.migrate();
    expect(res.applied).toBe(1);
    expect(await sb.history('commerce_cluster', sb.c1)).toHaveLength(1);
  });

  it('CREATE INDEX CONCURRENTLY with transaction: false succeeds while another runner waits', async () => {
    await sb.write(
      '20240101000001_table.sql',
      `-- pgm:targetSchemas ${sb.u2}\n-- up\nCREATE TABLE big (id int, v text);\nINSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 2000) g;\n`,
    );
    await sb.manager().migrate();
    let otherWaiting!: () => void;
    const waitingSeen = new Promise<void>((r) => (otherWaiting = r));
    const a = sb.manager({ holder: 'runner-A' });
    a.addMigration({
      version: '20240101000002_index',
      targetSchemas: [sb.u2],
      transaction: false,
      async up(ctx) {
        await waitingSeen;
        await ctx.query('CREATE INDEX CONCURRENTLY big_v_idx ON big (v)');
      },
    });
    const b = sb.manager({ lockTimeout: 60_000 });
    b.addMigration({ ...a.getMigrations()[0]!, up: async () => {} });
    b.on('lockWaiting', () => otherWaiting());
    const ra = a.migrate();
    await until(async () => (await b.getStatus({ targetSchemas: [sb.u2] })).targets[0]!.lockedBy !== undefined);
    const rb = b.migrate();
    const [resA, resB] = await Promise.all([ra, rb]);
    expect(resA.applied).toBe(1);
    expect(resB.applied).toBe(0);
    const idx = await sb.admin.users_cluster.query(
      `SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'big_v_idx'`,
      [sb.u2],
    );
    expect(idx.rows).toEqual([{ indisvalid: true }]);
    expect((await sb.history('users_cluster', sb.u2)).map((r) => r.version)).toEqual([
      '20240101000001_table',
      '20240101000002_index',
    ]);
  });
});
