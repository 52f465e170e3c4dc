import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '@pg-multiverse/testkit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { binPath, pgm, repoRoot } from './helpers.js';

// Issue 15, the CLI's part: errors name what failed, bad settings are refused, help is light.
const topo = inject('pgmTopology');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgm-cli-loud-'));
  mkdirSync(join(dir, 'migrations'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const run = (args: string[]) => pgm(args, { cwd: dir });

describe('pgm and issue 15', () => {
  it('--version --json has a command field like every other JSON document', async () => {
    const r = await run(['--version', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, command: 'version', version: expect.any(String) });
  });

  it('with several clusters, a connection error names the cluster and node that failed, never a password', async () => {
    const port = await freePort();
    writeFileSync(
      join(dir, 'pgm.config.json'),
      JSON.stringify({
        clusters: {
          good: { schemas: ['g'], primary: topo.config.users_cluster!.primary },
          bad: { schemas: ['b'], primary: `postgres://app:Cli-Secret-8@127.0.0.1:${port}/app` },
        },
      }),
    );
    const r = await run(['status', '--json']);
    expect(r.code).toBe(1);
    const doc = JSON.parse(r.stdout);
    expect(doc.error.code).toBe('CONNECTION_FAILED');
    expect(doc.error.message).toContain(`bad/primary (postgres://app:***@127.0.0.1:${port}/app) [ECONNREFUSED]`);
    expect(doc.error.connection).toBe(`bad primary postgres://app:***@127.0.0.1:${port}/app`);
    expect(doc.error.details).toEqual({ systemCode: 'ECONNREFUSED' });
    expect(r.stdout + r.stderr).not.toContain('one of');
    expect(r.stdout + r.stderr).not.toContain('Cli-Secret-8');
  });

  it('unknown keys in pgm.config.json are a configuration error (exit 2) with a did-you-mean', async () => {
    writeFileSync(
      join(dir, 'pgm.config.json'),
      JSON.stringify({
        clusters: { c: { schemas: ['s'], primary: topo.config.users_cluster!.primary, replica: [] } },
        migrations: { migrationPath: './migrations' },
        enableCach: true,
      }),
    );
    const r = await run(['status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/enableCach: is not a known option; did you mean "enableCache"/);
    expect(r.stderr).toMatch(/migrations\.migrationPath: is not a known option; did you mean "migrationsPath"/);
    writeFileSync(
      join(dir, 'pgm.config.json'),
      JSON.stringify({ clusters: { c: { schemas: ['s'], primary: topo.config.users_cluster!.primary, replica: [] } } }),
    );
    const r2 = await run(['status']);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/c\.replica: is not an option here: write replicas/);
    rmSync(join(dir, 'pgm.config.json'));
  });

  it('the TypeScript template of pgm create compiles without pg-multiverse installed (no TS2307)', async () => {
    const app = mkdtempSync(join(tmpdir(), 'pgm-cli-only-'));
    try {
      const r = await pgm(['create', 'add_users', '--ext', 'ts', '--migrations', 'migrations'], { cwd: app });
      expect(r.code, r.stderr).toBe(0);
      const file = readdirSync(join(app, 'migrations'))[0]!;
      const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            types: [],
            target: 'es2022',
            module: 'esnext',
            moduleResolution: 'bundler',
          },
          files: [join('migrations', file)],
        }),
      );
      const c = spawnSync(process.execPath, [tsc, '-p', app], { cwd: app, encoding: 'utf8' });
      expect(c.stdout + c.stderr).toBe('');
      expect(c.status).toBe(0);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });

  it('pgm --help loads neither pg nor jiti', () => {
    const hook = join(dir, 'trace.mjs');
    writeFileSync(
      hook,
      `import { register } from 'node:module';
register('data:text/javascript,' + encodeURIComponent("export async function resolve(s, c, n) { const r = await n(s, c); process._rawDebug('RESOLVED ' + r.url); return r; }"));\n`,
    );
    for (const bin of [binPath, join(repoRoot, 'packages', 'pg-multiverse', 'dist', 'bin.js')]) {
      const r = spawnSync(process.execPath, ['--import', hook, bin, '--help'], { cwd: dir, encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Usage');
      const loaded = r.stderr.split('\n').filter((l) => l.startsWith('RESOLVED '));
      expect(loaded.length).toBeGreaterThan(1);
      expect(loaded.filter((l) => /\/node_modules\/(\.pnpm\/)?(pg|jiti)[@/]/.test(l))).toEqual([]);
    }
  });
});
