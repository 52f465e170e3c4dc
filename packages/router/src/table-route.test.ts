import { createSqlAnalyzer, PgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { createSchemaRegistry } from './schema-registry.js';
import { clusterOfTables, clusterOfTablesMemo, schemaOfTable } from './table-route.js';

describe('schemaOfTable', () => {
  it('reads the schema of names as core prints them (quote_ident style)', () => {
    expect(schemaOfTable('users.accounts')).toBe('users');
    expect(schemaOfTable('accounts')).toBeUndefined();
    expect(schemaOfTable('"Big Co".accounts')).toBe('Big Co');
    expect(schemaOfTable('"a.b".t')).toBe('a.b');
    expect(schemaOfTable('"we""ird".t')).toBe('we"ird');
    expect(schemaOfTable('"Orders"')).toBeUndefined();
  });
});

describe('clusterOfTables', () => {
  const analyzer = createSqlAnalyzer();
  const owners: Record<string, string> = { users: 'u', auth: 'u', orders: 'c', 'Big Co': 'c' };
  const registry = {
    entry: (schema: string) => (owners[schema] ? { clusterId: owners[schema]! } : undefined),
  } as unknown as Parameters<typeof clusterOfTables>[1];
  const of = (sql: string) => clusterOfTables(analyzer.analyze(sql), registry);

  it('the cluster owning the schemas of the qualified tables, read or written; none for unqualified or unknown schemas', () => {
    expect(of('SELECT * FROM users.accounts a JOIN auth.tokens t ON t.a = a.id')).toBe('u');
    expect(of('WITH x AS (INSERT INTO orders.items VALUES (1) RETURNING id) SELECT * FROM x')).toBe('c');
    expect(of('SELECT * FROM "Big Co".ledger')).toBe('c');
    expect(of('SELECT * FROM accounts')).toBeUndefined();
    expect(of('SELECT relname FROM pg_catalog.pg_class')).toBeUndefined();
    expect(of('SELECT * FROM users.accounts, pg_catalog.pg_class')).toBe('u');
  });

  it('tables of two clusters in one statement: CROSS_CLUSTER_STATEMENT naming both', () => {
    let err: unknown;
    try {
      of('INSERT INTO orders.items SELECT id FROM users.accounts');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PgmError);
    expect(err).toMatchObject({ code: 'CROSS_CLUSTER_STATEMENT' });
    expect((err as Error).message).toMatch(/"c".*"u"|"u".*"c"/);
    expect((err as Error).message).toContain('withTransaction');
  });
});

describe('clusterOfTablesMemo', () => {
  it('remembers the owner per analysis until a schema is registered, then derives it again', () => {
    const analyzer = createSqlAnalyzer();
    const clusters = new Map([
      ['u', {}],
      ['c', {}],
    ]) as unknown as Parameters<typeof createSchemaRegistry>[1];
    const registry = createSchemaRegistry({ users: 'u' }, clusters, 'u');
    const a = analyzer.analyze('SELECT * FROM users.accounts JOIN extra.t USING (id)');
    expect(clusterOfTablesMemo(a, registry)).toBe('u');
    expect(clusterOfTablesMemo(a, registry)).toBe('u');
    registry.register('users', 'c', {});
    expect(clusterOfTablesMemo(a, registry)).toBe('c');
    registry.register('extra', 'u', {});
    expect(() => clusterOfTablesMemo(a, registry)).toThrow(/CROSS_CLUSTER|references tables of schema/);
    // Another registry (another router) never sees this one's answer.
    const other = createSchemaRegistry({ users: 'u' }, clusters, 'u');
    expect(clusterOfTablesMemo(a, other)).toBe('u');
  });
});
