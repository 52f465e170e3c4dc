import { describe, expect, it } from 'vitest';
import { normalizeMigration } from './normalize-migration.js';
import { orderMigrations } from './order.js';

const mig = (version: string, dependencies: string[] = []) =>
  normalizeMigration({ version, dependencies, up: async () => {} });

describe('orderMigrations', () => {
  it('puts dependencies first, otherwise version order', () => {
    const out = orderMigrations([
      mig('20240101000003_c'),
      mig('20240101000001_a', ['20240101000004']),
      mig('20240101000004_d'),
      mig('20240101000002_b'),
    ]);
    expect(out.map((m) => m.version.slice(-1))).toEqual(['b', 'c', 'd', 'a']);
  });
  it('rejects a missing dependency, naming both', () => {
    expect(() => orderMigrations([mig('20240101000001_a', ['nope'])])).toThrow(
      expect.objectContaining({
        code: 'MIGRATION_DEPENDENCY',
        message: expect.stringMatching(/20240101000001_a.*"nope"/),
      }),
    );
  });
  it('rejects a cycle, naming its members', () => {
    expect(() => orderMigrations([mig('1_a', ['3_c']), mig('2_b', ['1_a']), mig('3_c', ['2_b']), mig('4_d')])).toThrow(
      expect.objectContaining({ code: 'MIGRATION_DEPENDENCY', message: expect.stringMatching(/cycle.*1_a.*->/) }),
    );
  });
});
