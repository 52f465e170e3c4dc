import { describe, expect, it } from 'vitest';
import { normalizeMigration } from './normalize-migration.js';
import { orderMigrations } from './order.js';
import { type Histories, type HistoryRow, planDown, planUp } from './plan.js';
import { makeWaves } from './waves.js';

const schemaMap = { users: 'uc', auth: 'uc', orders: 'cc' };
const mig = (version: string, o: Record<string, unknown> = {}) =>
  normalizeMigration({ version, up: async () => {}, down: async () => {}, ...o }, { source: version });
const row = (schema: string, version: string, id: number, checksum?: string): HistoryRow => ({
  id,
  schema,
  version,
  name: version,
  checksum: checksum ?? mig(version).checksum,
  appliedAt: new Date(),
  executionMs: 1,
  appliedBy: 't',
});
const hist = (rows: HistoryRow[]): Histories => {
  const h: Histories = new Map();
  for (const r of rows)
    h.set(`${schemaMap[r.schema as keyof typeof schemaMap]}/${r.schema}`, [
      ...(h.get(`${schemaMap[r.schema as keyof typeof schemaMap]}/${r.schema}`) ?? []),
      r,
    ]);
  return h;
};
const base = { schemaMap, filter: {}, allowOutOfOrder: false, validateChecksums: true };

describe('planUp', () => {
  const ms = orderMigrations([
    mig('20240101000001_users', { targetSchemas: ['users', 'auth'] }),
    mig('20240101000002_orders', { targetSchemas: ['orders'], dependencies: ['20240101000001_users'] }),
    mig('20240101000003_all'),
  ]);

  it('plans migration x target in order, with same-target and cross-cluster prerequisites', () => {
    const steps = planUp({ ...base, ordered: ms, histories: hist([]) });
    expect(steps.map((s) => `${s.version.slice(15)}@${s.schema}`)).toEqual([
      'users@users',
      'users@auth',
      'orders@orders',
      'all@auth',
      'all@orders',
      'all@users',
    ]);
    expect(steps[2]!.prereqs.sort()).toEqual([0, 1]); // orders waits for users on both user schemas
    expect(steps[4]!.prereqs).toEqual([2]); // same target, strictly ordered
  });

  it('skips applied steps and honours targetVersion (full or timestamp) and filters', () => {
    const h = hist([row('users', '20240101000001_users', 1)]);
    expect(
      planUp({ ...base, ordered: ms, histories: h, targetVersion: '20240101000001' }).map((s) => s.schema),
    ).toEqual(['auth']);
    expect(
      planUp({ ...base, ordered: ms, histories: h, filter: { targetClusters: ['uc'] } }).map(
        (s) => `${s.version.slice(15)}@${s.schema}`,
      ),
    ).toEqual(['users@auth', 'all@auth', 'all@users']);
  });

  it('refuses a dependency that is neither applied nor in the run', () => {
    expect(() => planUp({ ...base, ordered: ms, histories: hist([]), filter: { targetSchemas: ['orders'] } })).toThrow(
      expect.objectContaining({ code: 'MIGRATION_DEPENDENCY' }),
    );
  });

  it('refuses out-of-order pending migrations unless allowOutOfOrder', () => {
    const h = hist([row('auth', '20240101000003_all', 1), row('users', '20240101000001_users', 2)]);
    expect(() => planUp({ ...base, ordered: ms, histories: h })).toThrow(
      expect.objectContaining({ code: 'MIGRATION_OUT_OF_ORDER', message: expect.stringContaining('uc/auth') }),
    );
    expect(planUp({ ...base, ordered: ms, histories: h, allowOutOfOrder: true }).length).toBeGreaterThan(0);
  });

  it('stops on a checksum mismatch naming the file, the target and how to accept it', () => {
    const withFile = orderMigrations([
      { ...mig('20240101000001_users', { targetSchemas: ['users'] }), file: '/m/20240101000001_users.ts' },
    ]);
    const h = hist([row('users', '20240101000001_users', 1, 'f'.repeat(64))]);
    expect(() => planUp({ ...base, ordered: withFile, histories: h })).toThrow(
      expect.objectContaining({
        code: 'MIGRATION_CHECKSUM_MISMATCH',
        message: expect.stringMatching(/20240101000001_users\.ts.*uc\/users.*repairChecksums/),
      }),
    );
    expect(planUp({ ...base, ordered: withFile, histories: h, validateChecksums: false })).toEqual([]);
  });
});

describe('planDown', () => {
  const ms = orderMigrations([
    mig('20240101000001_users', { targetSchemas: ['users'] }),
    mig('20240101000002_orders', { targetSchemas: ['orders'], dependencies: ['20240101000001_users'] }),
    normalizeMigration({ version: '20240101000003_nodown', targetSchemas: ['users'], up() {} }),
  ]);
  const h = hist([
    row('users', '20240101000001_users', 1),
    row('orders', '20240101000002_orders', 2),
    row('users', '20240101000003_nodown', 3),
  ]);
  const targets = [
    { cluster: 'cc', schema: 'orders' },
    { cluster: 'uc', schema: 'users' },
  ];

  it('refuses a migration without down unless force', () => {
    expect(() => planDown({ ordered: ms, histories: h, schemaMap, filter: {}, targets, force: false })).toThrow(
      expect.objectContaining({
        code: 'MIGRATION_NOT_REVERSIBLE',
        message: expect.stringMatching(/no down\(\).*force/),
      }),
    );
    const steps = planDown({ ordered: ms, histories: h, schemaMap, filter: {}, targets, force: true });
    expect(steps.find((s) => s.version === '20240101000003_nodown')!.forget).toMatch(/force/);
  });

  it('undoes newest first, dependents before their dependencies', () => {
    const steps = planDown({
      ordered: ms,
      histories: h,
      schemaMap,
      filter: {},
      targets,
      force: true,
      targetVersion: '20240101000000',
    });
    const users = steps.find((s) => s.version === '20240101000001_users')!;
    const orders = steps.find((s) => s.version === '20240101000002_orders')!;
    const nodown = steps.find((s) => s.version === '20240101000003_nodown')!;
    expect(users.prereqs.sort()).toEqual([nodown.index, orders.index].sort());
  });

  it('refuses to undo a dependency whose dependent stays applied', () => {
    expect(() =>
      planDown({ ordered: ms, histories: h, schemaMap, filter: {}, targets: [targets[1]!], force: false, steps: 2 }),
    ).toThrow(expect.objectContaining({ code: 'MIGRATION_NOT_REVERSIBLE' }));
    const hh = hist([row('users', '20240101000001_users', 1), row('orders', '20240101000002_orders', 2)]);
    expect(() =>
      planDown({ ordered: ms, histories: hh, schemaMap, filter: {}, targets: [targets[1]!], force: false }),
    ).toThrow(expect.objectContaining({ code: 'MIGRATION_DEPENDENCY' }));
  });
});

describe('makeWaves', () => {
  it('chunks targets by batchSize and merges waves joined by a dependency', () => {
    const ms = orderMigrations([
      mig('20240101000001_a', { targetSchemas: ['users', 'auth', 'orders'] }),
      mig('20240101000002_b', { targetSchemas: ['users'], dependencies: ['20240101000001_a'] }),
    ]);
    const steps = planUp({ ...base, ordered: ms, histories: hist([]) });
    // b@users depends on a@orders (third target): the first wave absorbs it.
    expect(makeWaves(steps, 1).map((w) => w.map((t) => t.schema))).toEqual([['users', 'auth', 'orders']]);
    const independent = planUp({
      ...base,
      ordered: orderMigrations([mig('20240101000001_a', { targetSchemas: ['users', 'auth', 'orders'] })]),
      histories: hist([]),
    });
    expect(makeWaves(independent, 2).map((w) => w.map((t) => t.schema))).toEqual([['users', 'auth'], ['orders']]);
  });
});
