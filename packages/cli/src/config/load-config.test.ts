// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders are the subject under test
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@pg-multiverse/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findConfig } from './find-config.js';
import { loadConfig, splitConfig } from './load-config.js';

const cluster = (schemas: string[], password = 'pw') => ({
  schemas,
  primary: { host: '127.0.0.1', port: 5432, database: 'app', user: 'app', password },
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgm-cli-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('splitConfig', () => {
  it('reads the { clusters, migrations } shape', () => {
    const c = splitConfig(
      { clusters: { a: cluster(['x']) }, migrations: { migrationsTable: 't' }, enableCache: true },
      'f',
    );
    expect(Object.keys(c.clusters!)).toEqual(['a']);
    expect(c.migrations).toEqual({ migrationsTable: 't' });
  });

  it('reads a bare ClusterConfiguration, even with a cluster named "clusters"', () => {
    expect(Object.keys(splitConfig({ a: cluster(['x']), b: cluster(['y']) }, 'f').clusters!)).toEqual(['a', 'b']);
    const odd = splitConfig({ clusters: cluster(['x']) }, 'f');
    expect(odd.clusters).toEqual({ clusters: cluster(['x']) });
  });

  it('rejects what is not an object', () => {
    expect(() => splitConfig([1], 'f')).toThrow(ConfigError);
  });
});

describe('findConfig', () => {
  it('finds the nearest file from the folder up', () => {
    const deep = join(dir, 'a', 'b');
    mkdirSync(deep, { recursive: true });
    expect(findConfig(deep)).toBeUndefined();
    writeFileSync(join(dir, 'pgm.config.json'), '{}');
    expect(findConfig(deep)).toBe(join(dir, 'pgm.config.json'));
    writeFileSync(join(dir, 'a', 'pgm.config.mjs'), 'export default {}');
    expect(findConfig(deep)).toBe(join(dir, 'a', 'pgm.config.mjs'));
  });
});

describe('loadConfig', () => {
  it('expands ${VAR}, resolves migrationsPath next to the file and collects secrets', async () => {
    writeFileSync(
      join(dir, 'pgm.config.json'),
      JSON.stringify({
        clusters: { main: { ...cluster(['app']), primary: 'postgres://app:${PG_PASS}@${PG_HOST}:5432/app' } },
        migrations: { migrationsPath: 'db/migrations', migrationsTable: 'history' },
      }),
    );
    const sub = join(dir, 'src');
    mkdirSync(sub);
    const cfg = await loadConfig({
      cwd: sub,
      env: { PG_PASS: 'hunter22', PG_HOST: 'db.internal' },
      requireClusters: true,
    });
    expect(cfg.source).toBe(join(dir, 'pgm.config.json'));
    expect(cfg.clusters!.main!.primary).toBe('postgres://app:hunter22@db.internal:5432/app');
    expect(cfg.migrations).toEqual({ migrationsPath: join(dir, 'db/migrations'), migrationsTable: 'history' });
    expect(cfg.secrets).toContain('hunter22');
  });

  it('lets --migrations (relative to cwd) win and defaults to ./migrations beside the file', async () => {
    writeFileSync(join(dir, 'pgm.config.json'), JSON.stringify({ main: cluster(['app']) }));
    const sub = join(dir, 'x');
    mkdirSync(sub);
    const a = await loadConfig({ cwd: sub, env: {}, requireClusters: true });
    expect(a.migrations.migrationsPath).toBe(join(dir, 'migrations'));
    const b = await loadConfig({ cwd: sub, env: {}, migrationsDir: 'm', requireClusters: true });
    expect(b.migrations.migrationsPath).toBe(join(sub, 'm'));
  });

  it('names an unset variable', async () => {
    writeFileSync(join(dir, 'pgm.config.json'), JSON.stringify({ main: cluster(['app'], '${SECRET_PW}') }));
    await expect(loadConfig({ cwd: dir, env: {}, requireClusters: true })).rejects.toThrow(/SECRET_PW is not set/);
  });

  it('uses DATABASE_URL alone as cluster "default" owning public (or the --schemas given)', async () => {
    const env = { DATABASE_URL: 'postgres://u:topsecret@h:5/db' };
    const a = await loadConfig({ cwd: dir, env, requireClusters: true });
    expect(a.source).toBe('DATABASE_URL');
    expect(a.clusters).toEqual({ default: { schemas: ['public'], primary: env.DATABASE_URL } });
    expect(a.secrets).toContain('topsecret');
    expect(a.migrations.migrationsPath).toBe(join(dir, 'migrations'));
    const b = await loadConfig({ cwd: dir, env, schemas: ['t1', 't2'], requireClusters: true });
    expect(b.clusters!.default!.schemas).toEqual(['t1', 't2']);
  });

  it('fails clearly without any configuration, unless none is needed', async () => {
    const err = await loadConfig({ cwd: dir, env: {}, requireClusters: true }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toContain('DATABASE_URL is not set');
    const none = await loadConfig({ cwd: dir, env: {}, requireClusters: false });
    expect(none.clusters).toBeUndefined();
    expect(none.migrations.migrationsPath).toBe(join(dir, 'migrations'));
  });

  it('reports an invalid configuration without its password', async () => {
    writeFileSync(
      join(dir, 'pgm.config.json'),
      JSON.stringify({ main: { schemas: ['a'], primary: { host: 'h', port: 'nope', password: 'pa55word' } } }),
    );
    const err = await loadConfig({ cwd: dir, env: {}, requireClusters: true }).catch((e) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).not.toContain('pa55word');
  });

  it('loads pgm.config.ts and a module exporting a (async) function', async () => {
    writeFileSync(
      join(dir, 'pgm.config.ts'),
      `import type { ClusterConfiguration } from '@pg-multiverse/core';
const clusters: ClusterConfiguration = { main: { schemas: ['app'], primary: 'postgres://app:\${PW}@h:5432/app' } };
export default { clusters, migrations: { migrationsPath: 'm' } };
`,
    );
    const ts = await loadConfig({ cwd: dir, env: { PW: 'from-env' }, requireClusters: true });
    expect(ts.source).toBe(join(dir, 'pgm.config.ts'));
    expect(ts.clusters!.main!.primary).toBe('postgres://app:from-env@h:5432/app');
    expect(ts.migrations.migrationsPath).toBe(join(dir, 'm'));

    writeFileSync(
      join(dir, 'other.mjs'),
      `export default async () => ({ c1: { schemas: ['x'], primary: { host: 'h', password: 'pw123' } } });\n`,
    );
    const fn = await loadConfig({ cwd: dir, env: {}, configFile: 'other.mjs', requireClusters: true });
    expect(Object.keys(fn.clusters!)).toEqual(['c1']);
    expect(fn.secrets).toContain('pw123');
  });

  it('reports a missing --config file and broken JSON', async () => {
    await expect(loadConfig({ cwd: dir, env: {}, configFile: 'nope.json', requireClusters: true })).rejects.toThrow(
      /not found/,
    );
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    await expect(loadConfig({ cwd: dir, env: {}, configFile: 'bad.json', requireClusters: true })).rejects.toThrow(
      /not valid JSON/,
    );
  });
});
