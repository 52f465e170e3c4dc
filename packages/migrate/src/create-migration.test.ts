import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMigrationFile } from './create-migration.js';
import { importModule } from './import-module.js';
import { loadMigrationFile, loadMigrations } from './load-migrations.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pgm-create-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('createMigrationFile', () => {
  it('writes YYYYMMDDHHMMSS_name.ts that loads back with its options', async () => {
    const file = await createMigrationFile(
      join(dir, 'nested'),
      'Add User Permissions',
      { targetSchemas: ['users', 'auth'], targetClusters: ['users_cluster'], description: 'roles', tags: ['security'] },
      new Date(Date.UTC(2024, 11, 30, 12, 0, 0)),
    );
    expect(basename(file)).toBe('20241230120000_add_user_permissions.ts');
    const m = await loadMigrationFile(file);
    expect(m).toMatchObject({
      version: '20241230120000_add_user_permissions',
      name: 'add_user_permissions',
      targetSchemas: ['users', 'auth'],
      targetClusters: ['users_cluster'],
      description: 'roles',
      tags: ['security'],
    });
  });

  it('follows the extension the folder uses and keeps versions increasing', async () => {
    await writeFile(join(dir, '20990101000000_a.sql'), 'SELECT 1;');
    const file = await createMigrationFile(dir, 'next', {}, new Date(Date.UTC(2024, 0, 1)));
    expect(basename(file)).toBe('20990101000001_next.sql');
    expect(await readFile(file, 'utf8')).toContain('-- up');
    const js = await createMigrationFile(dir, 'b', { ext: 'cjs', targetSchemas: ['s'] });
    expect((await loadMigrationFile(js)).targetSchemas).toEqual(['s']);
  });

  it('rejects empty names and unknown extensions', async () => {
    await expect(createMigrationFile(dir, '  ')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(createMigrationFile(dir, 'x', { ext: 'py' as 'ts' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });
});

describe('loading', () => {
  it('names a broken file and the cause', async () => {
    await writeFile(join(dir, '20240101000000_broken.ts'), 'export default { up( {');
    await expect(loadMigrations(dir)).rejects.toMatchObject({
      code: 'MIGRATION_LOAD_FAILED',
      message: expect.stringContaining('20240101000000_broken.ts'),
    });
    await writeFile(join(dir, '20240101000000_broken.ts'), 'throw new Error("kaput")');
    await expect(loadMigrations(dir)).rejects.toThrow(/20240101000000_broken\.ts: kaput|broken\.ts.*kaput/);
  });

  it('ignores other files (warning for code files) and a missing folder', async () => {
    await writeFile(join(dir, 'helpers.ts'), 'export const x = 1;');
    await writeFile(join(dir, 'README.md'), '#');
    await writeFile(join(dir, '20240101000000_ok.mjs'), 'export default { up() {} };');
    const warnings: string[] = [];
    const ms = await loadMigrations(dir, { info() {}, warn: (m) => warnings.push(m), error() {} });
    expect(ms.map((m) => m.version)).toEqual(['20240101000000_ok']);
    expect(warnings).toEqual([expect.stringContaining('helpers.ts')]);
    expect(await loadMigrations(join(dir, 'missing'))).toEqual([]);
  });

  it('importModule loads json, cjs and ts default exports', async () => {
    await writeFile(join(dir, 'c.json'), '{"a":1}');
    await writeFile(join(dir, 'c.cjs'), 'module.exports = { b: 2 };');
    await writeFile(join(dir, 'c.ts'), 'const n: number = 3; export default { n };');
    expect(await importModule(join(dir, 'c.json'))).toEqual({ a: 1 });
    expect(await importModule(join(dir, 'c.cjs'))).toEqual({ b: 2 });
    expect(await importModule(join(dir, 'c.ts'))).toEqual({ n: 3 });
  });
});
