import { describe, expect, it } from 'vitest';
import { normalizeMigration } from './normalize-migration.js';

describe('normalizeMigration', () => {
  it('fills name, lists, transaction and a checksum', () => {
    const m = normalizeMigration(
      { up: async () => {} },
      { version: '20240101000000_create_users', file: 'f.ts', source: 'x' },
    );
    expect(m).toMatchObject({
      version: '20240101000000_create_users',
      name: 'create_users',
      targetSchemas: [],
      transaction: true,
      file: 'f.ts',
    });
    expect(m.checksum).toMatch(/^[0-9a-f]{64}$/);
  });
  it('names the file when the object is invalid', () => {
    expect(() => normalizeMigration({ version: 'v' }, { file: 'bad.ts' })).toThrow(/bad\.ts: "up" must be a function/);
    expect(() => normalizeMigration(undefined, { file: 'empty.js' })).toThrow(/empty\.js: expected a migration object/);
    expect(() => normalizeMigration({ version: 'v', up() {}, targetSchemas: 'users' }, { file: 'x.js' })).toThrow(
      /targetSchemas/,
    );
  });
});
