// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders in config files are under test
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { binPath, type PgmRun, pgm } from './helpers.js';

const topo = inject('pgmTopology');
const sA = uniqueName('cli_a');
const sB = uniqueName('cli_b');
const sC = uniqueName('cli_c');
const clusters = withSchemas(topo.config, { users_cluster: [sA, sB], commerce_cluster: [sC] });
const usersPrimary = topo.config.users_cluster!.primary;
const commercePrimary = topo.config.commerce_cluster!.primary;
let dir: string;

/** `${PGM_HOST}` in every host, so the run also proves environment expansion. */
function withHostVar<T>(value: T): T {
  return JSON.parse(JSON.stringify(value).replaceAll('"host":"127.0.0.1"', '"host":"${PGM_HOST}"')) as T;
}

const env = { PGM_HOST: '127.0.0.1' };
const run = (args: string[], extraEnv: Record<string, string> = {}) =>
  pgm(args, { cwd: dir, env: { ...env, ...extraEnv } });

function json(r: PgmRun): any {
  try {
    return JSON.parse(r.stdout);
  } catch {
    throw new Error(`not one JSON document (exit ${r.code}):\n${r.stdout}\n--- stderr:\n${r.stderr}`);
  }
}

async function columns(node: typeof usersPrimary, schema: string, table: string): Promise<string[]> {
  const c = new pg.Client(node);
  await c.connect();
  try {
    const r = await c.query<{ column_name: string }>(
      'SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position',
      [schema, table],
    );
    return r.rows.map((x) => x.column_name);
  } finally {
    await c.end();
  }
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgm-cli-e2e-'));
  const text = JSON.stringify({ clusters: withHostVar(clusters), migrations: { migrationsPath: './db/migrations' } });
  expect(text).toContain('"host":"${PGM_HOST}"');
  writeFileSync(join(dir, 'pgm.config.json'), text);
});

afterAll(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (const [node, schemas] of [
    [usersPrimary, [sA, sB]],
    [commercePrimary, [sC]],
  ] as const) {
    const c = new pg.Client(node);
    await c.connect();
    for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await c.end();
  }
});

describe('pgm binary against a real topology', () => {
  let v1 = '';
  let v2 = '';

  it('is an executable node script with a shebang', () => {
    expect(readFileSync(binPath, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('prints the real package version', async () => {
    const r = await run(['--version']);
    expect(r.code).toBe(0);
    const pkg = JSON.parse(readFileSync(join(dirname(binPath), '..', 'package.json'), 'utf8'));
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('create writes migration files from templates without a database', async () => {
    // No config, no DATABASE_URL: create still works (it never connects).
    const lone = mkdtempSync(join(tmpdir(), 'pgm-cli-lone-'));
    try {
      const r = await pgm(['create', 'first_one'], { cwd: lone });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/Created migrations\/\d{14}_first_one\.ts/);
    } finally {
      rmSync(lone, { recursive: true, force: true });
    }

    const a = await run([
      'create',
      'create_items',
      '--schemas',
      `${sA},${sC}`,
      '--description',
      'Items table',
      '--tags',
      'items,initial',
      '--ext',
      'js',
      '--json',
    ]);
    expect(a.code, a.stderr).toBe(0);
    const fileA = json(a).file as string;
    expect(fileA.startsWith(join(dir, 'db', 'migrations'))).toBe(true);
    expect(fileA.endsWith('_create_items.js')).toBe(true);
    v1 = basename(fileA, '.js');

    const listed = json(await run(['list', '--json']));
    expect(listed.migrations).toHaveLength(1);
    expect(listed.migrations[0]).toMatchObject({
      version: v1,
      description: 'Items table',
      targetSchemas: [sA, sC],
      tags: ['items', 'initial'],
    });

    writeFileSync(
      fileA,
      readFileSync(fileA, 'utf8')
        .replace(
          /async up\(context\) \{/,
          "async up(context) {\n    await context.query('CREATE TABLE items (id int PRIMARY KEY)');",
        )
        .replace(/async down\(context\) \{/, "async down(context) {\n    await context.query('DROP TABLE items');"),
    );

    const b = await run(['create', 'add_note', '--schemas', sA, '--ext', 'sql', '--json']);
    expect(b.code, b.stderr).toBe(0);
    const fileB = json(b).file as string;
    v2 = basename(fileB, '.sql');
    expect(v2 > v1).toBe(true);
    writeFileSync(
      fileB,
      readFileSync(fileB, 'utf8').replace(
        /-- up[\s\S]*$/,
        '-- up\nALTER TABLE items ADD COLUMN note text;\n\n-- down\nALTER TABLE items DROP COLUMN note;\n',
      ),
    );
  });

  it('status shows everything pending', async () => {
    const r = await run(['status', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = json(r);
    expect(s).toMatchObject({ ok: true, command: 'status', migrations: 2, appliedMigrations: 0, pendingMigrations: 3 });
    const pending = Object.fromEntries(s.targets.map((t: any) => [t.schema, t.pending]));
    expect(pending).toEqual({ [sA]: 2, [sB]: 0, [sC]: 1 });
  });

  it('migrate --dry-run changes nothing', async () => {
    const r = await run(['migrate', '--dry-run', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = json(r);
    expect(doc.dryRun).toBe(true);
    expect(doc.steps.map((x: any) => x.status)).toEqual(['planned', 'planned', 'planned']);
    expect(await columns(usersPrimary, sA, 'items')).toEqual([]);
  });

  it('migrate applies every step and reports them', async () => {
    const r = await run(['migrate', '--parallel', '--max-parallel', '2', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = json(r);
    expect(doc).toMatchObject({ ok: true, command: 'migrate', applied: 3, failed: 0 });
    expect(doc.steps.map((x: any) => `${x.version}@${x.schema}:${x.status}`).sort()).toEqual(
      [`${v1}@${sA}:applied`, `${v1}@${sC}:applied`, `${v2}@${sA}:applied`].sort(),
    );
    expect(await columns(usersPrimary, sA, 'items')).toEqual(['id', 'note']);
    expect(await columns(commercePrimary, sC, 'items')).toEqual(['id']);
    expect(await columns(usersPrimary, sB, 'items')).toEqual([]);
  });

  it('status (piped) prints the table and the summary, no progress lines', async () => {
    const r = await run(['status']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('\u001b[');
    const row = r.stdout.split('\n').find((l) => l.includes(sA))!;
    expect(row.split(/\s+/).filter(Boolean)).toEqual(['users_cluster', sA, '2', '0', v2]);
    expect(r.stdout).toContain('2 migrations, 3 targets: 3 applied, 0 pending.');
    expect(json(await run(['status', '--json', '--clusters', 'commerce_cluster']))).toMatchObject({
      appliedMigrations: 1,
      pendingMigrations: 0,
      targets: [{ schema: sC, cluster: 'commerce_cluster', lastApplied: v1 }],
    });
  });

  it('rollback undoes the last migration wherever it was applied', async () => {
    const r = await run(['rollback', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = json(r);
    expect(doc).toMatchObject({ ok: true, command: 'rollback', rolledBack: 1, failed: 0 });
    expect(doc.steps.map((x: any) => [x.version, x.schema, x.status])).toEqual([[v2, sA, 'rolledBack']]);
    expect(await columns(usersPrimary, sA, 'items')).toEqual(['id']);
    expect(await columns(commercePrimary, sC, 'items')).toEqual(['id']);
    const s = json(await run(['status', '--json']));
    expect(s).toMatchObject({ appliedMigrations: 2, pendingMigrations: 1 });
  });

  it('migrate --verbose prints a progress line per step with its duration, then a summary', async () => {
    const r = await run(['migrate', '--verbose', '--schemas', sA]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`✔ ${v2}  ${sA}@users_cluster  \\d+(ms|\\.\\ds)`));
    expect(r.stdout).toMatch(/Applied 1 migration to 1 target/);
    expect(await columns(usersPrimary, sA, 'items')).toEqual(['id', 'note']);
    // Piped without --verbose: the summary only.
    expect((await run(['rollback', '--schemas', sC])).code).toBe(0);
    expect(await columns(commercePrimary, sC, 'items')).toEqual([]);
    const quiet = await run(['migrate']);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stdout).not.toContain(`✔ ${v1}`);
    expect(quiet.stdout.trim().split('\n')).toEqual([expect.stringMatching(/^✔ Applied 1 migration to 1 target /)]);
    expect(await columns(commercePrimary, sC, 'items')).toEqual(['id']);
  });

  it('rollback --target and --steps', async () => {
    const dry = json(await run(['rollback', '--target', v1, '--schemas', sA, '--dry-run', '--json']));
    expect(dry.steps.map((x: any) => [x.version, x.status])).toEqual([[v2, 'planned']]);
    expect(await columns(usersPrimary, sA, 'items')).toEqual(['id', 'note']);
    const r = await run(['rollback', '--steps', '2', '--schemas', sA, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(json(r).rolledBack).toBe(2);
    expect(await columns(usersPrimary, sA, 'items')).toEqual([]);
  });

  it('a failing migration exits 1 and names the step', async () => {
    const bad = join(dir, 'db', 'migrations', '29990101000000_broken.sql');
    writeFileSync(bad, `-- pgm:targetSchemas ${sB}\n-- up\nSELECT * FROM no_such_table;\n`);
    try {
      const r = await run(['migrate', '--schemas', sB]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('29990101000000_broken');
      expect(r.stderr).toContain('no_such_table');
      const j = await run(['migrate', '--schemas', sB, '--json']);
      expect(j.code).toBe(1);
      const doc = json(j);
      expect(doc.ok).toBe(false);
      expect(doc.steps.find((x: any) => x.status === 'failed')).toMatchObject({
        version: '29990101000000_broken',
        schema: sB,
      });
    } finally {
      rmSync(bad);
    }
  });

  it('a wrong password exits 1 and prints the connection redacted', async () => {
    const wrong = 'Wr0ng-secret-pw';
    const cfgFile = join(dir, 'wrong.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        users_cluster: {
          schemas: [sA],
          primary: { ...usersPrimary, user: topo.passwordRole.user, password: '${PGM_PW}' },
        },
      }),
    );
    const r = await run(['status', '--config', cfgFile], { PGM_PW: wrong });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`postgres://${topo.passwordRole.user}:***@127.0.0.1:${usersPrimary.port}/`);
    expect(r.stderr + r.stdout).not.toContain(wrong);
    const j = await run(['status', '--config', cfgFile, '--json', '--verbose'], { PGM_PW: wrong });
    expect(j.code).toBe(1);
    expect(json(j).error.connection).toContain(':***@');
    expect(j.stderr + j.stdout).not.toContain(wrong);

    // The same through DATABASE_URL alone (no config file in this folder).
    const bare = mkdtempSync(join(tmpdir(), 'pgm-cli-url-'));
    try {
      const url = `postgres://${topo.passwordRole.user}:${wrong}@127.0.0.1:${usersPrimary.port}/${usersPrimary.database}`;
      const u = await pgm(['status'], { cwd: bare, env: { DATABASE_URL: url } });
      expect(u.code).toBe(1);
      expect(u.stderr).toContain(':***@');
      expect(u.stderr + u.stdout).not.toContain(wrong);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it('DATABASE_URL alone is enough (with the right password)', async () => {
    const bare = mkdtempSync(join(tmpdir(), 'pgm-cli-url-'));
    try {
      const { user, password } = topo.passwordRole;
      const url = `postgres://${user}:${password}@127.0.0.1:${usersPrimary.port}/${usersPrimary.database}`;
      const r = await pgm(['status', '--schemas', sB, '--json'], { cwd: bare, env: { DATABASE_URL: url } });
      expect(r.code, r.stderr).toBe(0);
      expect(json(r)).toMatchObject({ migrations: 0, targets: [{ cluster: 'default', schema: sB }] });
      expect(r.stdout).not.toContain(password);
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it('usage errors exit 2 with the nearest command or flag', async () => {
    const a = await run(['migrat']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('Unknown command "migrat". Did you mean "migrate"?');
    const b = await run(['migrate', '--dryrun']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('Did you mean "--dry-run"?');
    const c = await run(['status', '--schemas', 'nope_schema', '--json']);
    expect(c.code).toBe(2);
    expect(json(c).error.code).toBe('INVALID_ARGUMENT');
  });
});
