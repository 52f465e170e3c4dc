import { createSqlAnalyzer, PgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { clusterOfTables, schemaOfTable } from './table-route.js';

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
