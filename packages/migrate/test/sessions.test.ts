// The sessions of a run's steps: kept from step to step (one per location when sequential), reset
// between steps, separate from the lock session, discarded after a failure; two round trips per
// transactional step (its opening travels with its first statement); no deadlock when the pool is smaller than maxParallel + the lock session.
import { type Connection, type ConnectionProvider, poolProvider } from '@pg-multiverse/core';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MigrationManager } from '../src/index.js';
import { type Sandbox, sandbox } from './helpers.js';

let sb: Sandbox;
beforeEach(async () => {
  sb = await sandbox();
});
afterEach(async () => {
  await sb.cleanup();
});

interface Seen {
  version: string;
  schema: string;
  pid: number;
  statementTimeout: string;
  workMem: string;
  searchPath: string;
  lockPid: number | null;
}

/** What a step's session looks like from inside the migration. */
async function look(
  ctx: { query: Connection['query']; schema: string; migration: { version: string } },
  controlSchema: string,
): Promise<Seen> {
  const r = await ctx.query<{ pid: number; st: string; wm: string; sp: string; lock: number | null }>(
    `SELECT pg_backend_pid() AS pid, current_setting('statement_timeout') AS st, current_setting('work_mem') AS wm,
       current_setting('search_path') AS sp,
       (SELECT backend_pid FROM "${controlSchema}".pg_multiverse_migration_locks WHERE schema_name = $1) AS lock`,
    [ctx.schema],
  );
  const row = r.rows[0]!;
  return {
    version: ctx.migration.version,
    schema: ctx.schema,
    pid: row.pid,
    statementTimeout: row.st,
    workMem: row.wm,
    searchPath: row.sp,
    lockPid: row.lock,
  };
}

/**
 * A provider over `pool` that counts the statements it sends (one round trip each: pg sends one query
 * at a time). `pipeline`: its sessions also have `queryAfter`, a prelude and a statement counted as
 * one round trip (`[prelude] text`).
 */
function counting(pool: pg.Pool, id: string, pipeline = false): ConnectionProvider & { sent: string[] } {
  const inner = poolProvider(pool, id, { ownsPool: false });
  const sent: string[] = [];
  return {
    sent,
    id,
    query: (text, values) => {
      sent.push(text);
      return inner.query(text, values);
    },
    withConnection: (fn) =>
      inner.withConnection((c) =>
        fn({
          query: (text, values) => {
            sent.push(text);
            return c.query(text, values);
          },
          ...(pipeline
            ? {
                queryAfter: (prelude: readonly string[], text: string, values?: unknown[]) => {
                  sent.push(`[${prelude.join('; ')}] ${text}`);
                  return c.queryAfter!(prelude, text, values);
                },
              }
            : {}),
        }),
      ),
    stats: () => inner.stats(),
    end: async () => {},
  };
}

describe('step sessions', () => {
  it('one session per location for a sequential run, reset between steps, apart from the lock session', async () => {
    const mm = sb.manager();
    const seen: Seen[] = [];
    for (let i = 1; i <= 3; i++) {
      mm.addMigration({
        version: `2024010100000${i}_m${i}`,
        targetSchemas: [sb.u1, sb.u2],
        async up(ctx) {
          seen.push(await look(ctx, sb.controlSchema));
          // Session-level settings made inside the step's transaction outlive its COMMIT on that session.
          await ctx.query(`SET statement_timeout = '4321ms'`);
          await ctx.query(`SET work_mem = '7MB'`);
          await ctx.query(`CREATE TABLE t${i} (id int)`);
        },
      });
    }
    const res = await mm.migrate();
    expect(res.applied).toBe(6);
    const defaults = (
      await sb.admin.users_cluster.query<{ st: string; wm: string }>(
        `SELECT current_setting('statement_timeout') AS st, current_setting('work_mem') AS wm`,
      )
    ).rows[0]!;
    expect(defaults.st).not.toBe('4321ms');
    expect(defaults.wm).not.toBe('7MB');
    // Every step of users_cluster ran on the same session...
    expect(new Set(seen.map((s) => s.pid)).size).toBe(1);
    for (const s of seen) {
      // ...which is not the session holding the locks (that one stays idle, outside any transaction)...
      expect(s.lockPid).not.toBeNull();
      expect(s.lockPid).not.toBe(s.pid);
      // ...and what an earlier step SET did not reach it.
      expect(s.statementTimeout).toBe(defaults.st);
      expect(s.workMem).toBe(defaults.wm);
      expect(s.searchPath.replace(/"/g, '')).toBe(`${s.schema}, public`);
    }
  });

  it('after a failed step its session is discarded; a transaction: false step does not pass its SETs on', async () => {
    const mm = sb.manager();
    const seen: Seen[] = [];
    mm.addMigration({
      version: '20240101000001_fails_on_u1',
      targetSchemas: [sb.u1, sb.u2],
      async up(ctx) {
        seen.push(await look(ctx, sb.controlSchema));
        if (ctx.schema === sb.u1) await ctx.query('SELECT * FROM no_such_table');
        await ctx.query('CREATE TABLE a (id int)');
      },
    });
    mm.addMigration({
      version: '20240101000002_no_tx',
      targetSchemas: [sb.u2],
      transaction: false,
      async up(ctx) {
        seen.push(await look(ctx, sb.controlSchema));
        await ctx.query(`SET work_mem = '7MB'`);
        await ctx.query('CREATE TABLE b (id int)');
      },
    });
    mm.addMigration({
      version: '20240101000003_after',
      targetSchemas: [sb.u2],
      async up(ctx) {
        seen.push(await look(ctx, sb.controlSchema));
        await ctx.query('CREATE TABLE c (id int)');
      },
    });
    const err = await mm.migrate({ continueOnError: true }).catch((e) => e);
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.result.applied).toBe(3);
    const [failed, second, noTx, after] = seen;
    expect(failed!.schema).toBe(sb.u1);
    expect(second!.pid).not.toBe(failed!.pid);
    expect(after!.workMem).not.toBe('7MB');
    expect(noTx!.searchPath.replace(/"/g, '')).toBe(`${sb.u2}, public`);
    expect(await sb.tables('users_cluster', sb.u1)).toEqual([]);
    expect(await sb.tables('users_cluster', sb.u2)).toEqual(['a', 'b', 'c']);
    expect((await sb.history('users_cluster', sb.u2)).map((r) => r.version.slice(15))).toEqual([
      'fails_on_u1',
      'no_tx',
      'after',
    ]);
  });

  it('a transactional step takes two round trips of its own; a run adds a few per location and target', async () => {
    const pool = new pg.Pool({ ...sb.config.users_cluster!.primary, max: 4 });
    const provider = counting(pool, 'users_cluster/primary');
    const make = () =>
      new MigrationManager({
        clusters: { users_cluster: sb.clusters.users_cluster! },
        primary: () => provider,
        migrationsPath: sb.dir,
        controlSchema: sb.controlSchema,
      });
    const add = (mm: MigrationManager, n: number) => {
      for (let i = 1; i <= n; i++) {
        mm.addMigration({
          version: `2024010100000${i}_m${i}`,
          targetSchemas: [sb.u1, sb.u2],
          up: (ctx) => ctx.query(`CREATE TABLE t${i} (id int)`).then(() => {}),
        });
      }
    };
    try {
      // First run: creates the control tables.
      const first = make();
      add(first, 1);
      await first.migrate();
      await first.close();

      // Second run: 4 more migrations on 2 targets of one location, control tables present.
      const mm = make();
      add(mm, 5);
      const perStep: number[] = [];
      let at = 0;
      mm.on('migrationStarted', () => (at = provider.sent.length));
      mm.on('migrationCompleted', () => perStep.push(provider.sent.length - at));
      provider.sent.length = 0;
      const res = await mm.migrate();
      await mm.close();
      expect(res.applied).toBe(8);
      // The first step also checks its session out (a reset of the pooled session at most).
      expect(perStep[0]).toBeLessThanOrEqual(3);
      expect(perStep.slice(1)).toEqual([2, 2, 2, 2, 2, 2, 2]);
      const stepTotal = perStep.reduce((a, b) => a + b, 0);
      // Per run: the history read before the lock (tables exist? rows) and its rows again under the lock,
      // one lock statement per target, one release statement, the lock session's reset: 2 + 1 + 2 + 1 + 1.
      expect(provider.sent.length - stepTotal).toBeLessThanOrEqual(7);
      // This provider's sessions cannot pipeline (no queryAfter): the opening and the first statement
      // go as one simple-protocol text.
      const steps = provider.sent.filter((s) => /^BEGIN; .*; CREATE TABLE t\d \(id int\)$/s.test(s));
      expect(steps).toHaveLength(8);
      expect(provider.sent.filter((s) => /INSERT INTO .*; COMMIT; RESET ALL$/s.test(s))).toHaveLength(8);
    } finally {
      await pool.end();
    }
  });

  it('maxParallel beyond what the pool can lend next to the lock session still completes', async () => {
    const users = sb.clusters.users_cluster!;
    const clusters = {
      ...sb.clusters,
      // The lock session takes one of the two connections; steps share the other.
      users_cluster: { ...users, primary: { ...users.primary, pool: { max: 2 } } },
    };
    const mm = sb.manager({ clusters });
    for (let i = 1; i <= 3; i++) {
      mm.addMigration({
        version: `2024010100000${i}_m${i}`,
        targetSchemas: [sb.u1, sb.u2],
        async up(ctx) {
          await ctx.query('SELECT pg_sleep(0.02)');
          await ctx.query(`CREATE TABLE t${i} (id int)`);
        },
      });
    }
    const res = await mm.migrate({ parallel: true, maxParallel: 4 });
    expect(res.applied).toBe(6);
    for (const s of [sb.u1, sb.u2]) {
      expect((await sb.history('users_cluster', s)).map((r) => r.version.slice(-2))).toEqual(['m1', 'm2', 'm3']);
    }
  });
});

describe('a provider that sets its sessions up', () => {
  it('every step sees what the provider SET at checkout (such sessions go back to it after each step)', async () => {
    const pool = new pg.Pool({ ...sb.config.users_cluster!.primary, max: 4 });
    const inner = poolProvider(pool, 'users_cluster/primary', { ownsPool: false });
    let checkouts = 0;
    const provider: ConnectionProvider = {
      ...inner,
      withConnection: (fn) =>
        inner.withConnection(async (c) => {
          checkouts++;
          await c.query(`SET application_name = 'pgm-custom-provider'`);
          return fn(c);
        }),
    };
    const mm = new MigrationManager({
      clusters: { users_cluster: sb.clusters.users_cluster! },
      primary: () => provider,
      migrationsPath: sb.dir,
      controlSchema: sb.controlSchema,
    });
    const names: string[] = [];
    try {
      for (let i = 1; i <= 3; i++) {
        mm.addMigration({
          version: `2024010100000${i}_m${i}`,
          targetSchemas: [sb.u1, sb.u2],
          async up(ctx) {
            names.push((await ctx.query<{ a: string }>(`SELECT current_setting('application_name') AS a`)).rows[0]!.a);
            await ctx.query(`CREATE TABLE t${i} (id int)`);
          },
        });
      }
      expect((await mm.migrate()).applied).toBe(6);
      expect(names).toEqual(Array.from({ length: 6 }, () => 'pgm-custom-provider'));
      // One checkout per step (as before sessions were kept), one to create the control tables, one for the locks.
      expect(checkouts).toBe(6 + 1 + 1);
    } finally {
      await mm.close();
      await pool.end();
    }
  });
});

describe('a kept session that dies while idle', () => {
  it('the next step runs on another session: nothing lost, nothing applied twice', async () => {
    const pool = new pg.Pool({ ...sb.config.users_cluster!.primary, max: 4 });
    const inner = poolProvider(pool, 'users_cluster/primary', { ownsPool: false });
    const killed: number[] = [];
    const begun = new WeakSet<object>();
    // Terminates a session on the server (for real) just before its second step begins, as
    // idle_session_timeout or a server restart would while it waited between steps.
    const provider: ConnectionProvider = {
      ...inner,
      withConnection: (fn) =>
        inner.withConnection((c) => {
          const conn: Connection = {
            query: async (text, values) => {
              if (/^BEGIN; /.test(text)) {
                if (begun.has(c) && killed.length === 0) {
                  const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
                  // With a timeout, pg_terminate_backend returns once the backend is gone (PostgreSQL 14+).
                  await sb.admin.users_cluster.query('SELECT pg_terminate_backend($1, 10000)', [pid]);
                  killed.push(pid);
                }
                begun.add(c);
              }
              return c.query(text, values);
            },
          };
          return fn(conn);
        }),
    };
    const mm = new MigrationManager({
      clusters: { users_cluster: sb.clusters.users_cluster! },
      primary: () => provider,
      migrationsPath: sb.dir,
      controlSchema: sb.controlSchema,
    });
    const pids: number[] = [];
    try {
      for (let i = 1; i <= 3; i++) {
        mm.addMigration({
          version: `2024010100000${i}_m${i}`,
          targetSchemas: [sb.u1],
          async up(ctx) {
            pids.push((await ctx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);
            await ctx.query(`CREATE TABLE t${i} (id int)`);
          },
        });
      }
      const res = await mm.migrate();
      expect(res.applied).toBe(3);
      expect(killed).toHaveLength(1);
      expect(pids[1]).not.toBe(killed[0]);
      expect(pids[0]).toBe(killed[0]);
      expect((await sb.history('users_cluster', sb.u1)).map((r) => r.version.slice(-2))).toEqual(['m1', 'm2', 'm3']);
      expect(await sb.tables('users_cluster', sb.u1)).toEqual(['t1', 't2', 't3']);
    } finally {
      await mm.close();
      await pool.end();
    }
  });
});

describe('step sessions over a pool shared by two locations', () => {
  it('sessions kept for one location do not starve the other (pool: the two lock sessions + one)', async () => {
    // Two clusters whose providers lend connections of one pool (here: of one server).
    const pool = new pg.Pool({ ...sb.config.users_cluster!.primary, max: 3 });
    const providers = {
      users_cluster: poolProvider(pool, 'users_cluster/primary', { ownsPool: false }),
      commerce_cluster: poolProvider(pool, 'commerce_cluster/primary', { ownsPool: false }),
    };
    const mm = new MigrationManager({
      clusters: sb.clusters,
      primary: (cluster) => providers[cluster as keyof typeof providers],
      migrationsPath: sb.dir,
      controlSchema: sb.controlSchema,
    });
    try {
      for (let i = 1; i <= 3; i++) {
        mm.addMigration({
          version: `2024010100000${i}_m${i}`,
          targetSchemas: [sb.u1, sb.c1],
          up: (ctx) => ctx.query(`CREATE TABLE t${i} (id int)`).then(() => {}),
        });
      }
      const res = await mm.migrate();
      expect(res.applied).toBe(6);
      const r = await pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${sb.controlSchema}".pg_multiverse_migrations WHERE schema_name = ANY($1)`,
        [[sb.u1, sb.c1]],
      );
      expect(r.rows[0]!.n).toBe(6);
    } finally {
      await mm.close();
      await pool.query(`DROP SCHEMA IF EXISTS "${sb.c1}" CASCADE`);
      await pool.end();
    }
  });
});

describe("a step's opening travels with its first statement", () => {
  it('with parameters, several statements, or none: results as query() gives them, two round trips (one without statements)', async () => {
    const pool = new pg.Pool({ ...sb.config.users_cluster!.primary, max: 4 });
    const provider = counting(pool, 'users_cluster/primary', true);
    const mm = new MigrationManager({
      clusters: { users_cluster: sb.clusters.users_cluster! },
      primary: () => provider,
      migrationsPath: sb.dir,
      controlSchema: sb.controlSchema,
    });
    const seen: Record<string, unknown> = {};
    mm.addMigration({
      version: '20240101000001_params_first',
      targetSchemas: [sb.u1],
      async up(ctx) {
        const r = await ctx.query<{ s: string; sp: string }>(
          `SELECT $1::text AS s, current_setting('search_path') AS sp`,
          ['x'],
        );
        seen.params = { ...r.rows[0], sp: r.rows[0]!.sp.replace(/"/g, '') };
        await ctx.query('CREATE TABLE p (id int)');
      },
    });
    mm.addMigration({
      version: '20240101000002_several_first',
      targetSchemas: [sb.u1],
      async up(ctx) {
        const r = (await ctx.query(
          'CREATE TABLE s (id int); INSERT INTO s VALUES (1), (2); SELECT id FROM s',
        )) as unknown;
        seen.several = (r as Array<{ command: string; rows: unknown[] }>).map((x) => [x.command, x.rows]);
      },
    });
    mm.addMigration({
      version: '20240101000003_nothing',
      targetSchemas: [sb.u1],
      up() {},
    });
    const perStep: number[] = [];
    let at = 0;
    mm.on('migrationStarted', () => (at = provider.sent.length));
    mm.on('migrationCompleted', () => perStep.push(provider.sent.length - at));
    try {
      expect((await mm.migrate()).applied).toBe(3);
      expect(seen.params).toEqual({ s: 'x', sp: `${sb.u1}, public` });
      expect(seen.several).toEqual([
        ['CREATE', []],
        ['INSERT', []],
        ['SELECT', [{ id: 1 }, { id: 2 }]],
      ]);
      // Two round trips of the step's own plus its second statement; the pooled session's reset (first step)
      // rides in the pipeline; a step without statements is one round trip.
      expect(perStep).toEqual([3, 2, 1]);
      expect(await sb.tables('users_cluster', sb.u1)).toEqual(['p', 's']);
      expect((await sb.history('users_cluster', sb.u1)).map((r) => r.version.slice(15))).toEqual([
        'params_first',
        'several_first',
        'nothing',
      ]);
    } finally {
      await mm.close();
      await pool.end();
    }
  });

  it('a session that cannot pipeline: a first statement with parameters goes after the opening', async () => {
    const pool = new pg.Pool({ ...sb.config.users_cluster!.primary, max: 4 });
    const provider = counting(pool, 'users_cluster/primary');
    const mm = new MigrationManager({
      clusters: { users_cluster: sb.clusters.users_cluster! },
      primary: () => provider,
      migrationsPath: sb.dir,
      controlSchema: sb.controlSchema,
    });
    let got: unknown;
    mm.addMigration({
      version: '20240101000001_params_first',
      targetSchemas: [sb.u1],
      async up(ctx) {
        got = (await ctx.query<{ s: string }>('SELECT $1::text AS s', ['y'])).rows;
        await ctx.query('CREATE TABLE q (id int)');
      },
    });
    try {
      provider.sent.length = 0;
      expect((await mm.migrate()).applied).toBe(1);
      expect(got).toEqual([{ s: 'y' }]);
      const i = provider.sent.findIndex((t) => /^BEGIN; .*SET LOCAL search_path/s.test(t));
      expect(provider.sent[i]).toMatch(/SET LOCAL search_path TO [^;]*$/);
      expect(provider.sent.slice(i + 1, i + 4)).toEqual([
        'SELECT $1::text AS s',
        'CREATE TABLE q (id int)',
        expect.stringMatching(/^INSERT INTO .*; COMMIT; RESET ALL$/s),
      ]);
      expect(await sb.tables('users_cluster', sb.u1)).toEqual(['q']);
    } finally {
      await mm.close();
      await pool.end();
    }
  });

  it('a migration that swallows the failure of its first statement still fails, with that error, and leaves nothing', async () => {
    const mm = sb.manager();
    mm.addMigration({
      version: '20240101000001_swallows',
      targetSchemas: [sb.u1],
      async up(ctx) {
        await ctx.query('CREATE TABLE x (id int); SELECT * FROM no_such_table').catch(() => {});
      },
    });
    const err = await mm.migrate().catch((e) => e);
    expect(err.code).toBe('MIGRATION_FAILED');
    expect(err.message).toMatch(/no_such_table/);
    expect(await sb.tables('users_cluster', sb.u1)).toEqual([]);
    expect(await sb.history('users_cluster', sb.u1)).toEqual([]);
  });
});
