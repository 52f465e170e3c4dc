import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { isNormalizedConfiguration, toPgPoolConfig, validateConfiguration } from './validate-config.js';

const node = { host: '127.0.0.1', port: 5432, database: 'app', user: 'app', password: 's3cret-pw' };

function issuesOf(config: unknown): string[] {
  try {
    validateConfiguration(config);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.path}: ${i.message}`);
  }
  throw new Error('expected a ConfigError');
}

describe('validateConfiguration', () => {
  it('normalises a documented configuration', () => {
    const n = validateConfiguration({
      users_cluster: { schemas: ['users', 'auth'], primary: node, replicas: [node, { ...node, id: 'r2', weight: 3 }] },
      commerce_cluster: {
        schemas: ['orders'],
        primary: 'postgres://u:p@db:6543/shop',
        readPreference: 'primary',
        consistencyLevel: 'strong',
      },
    });
    expect(n.schemaToCluster).toEqual({ users: 'users_cluster', auth: 'users_cluster', orders: 'commerce_cluster' });
    const users = n.clusters.users_cluster!;
    expect(users.primary.id).toBe('primary');
    expect(users.replicas.map((r) => [r.id, r.weight])).toEqual([
      ['replica-1', 1],
      ['r2', 3],
    ]);
    expect(users.readPreference).toBe('replica');
    expect(users.consistencyLevel).toBe('eventual');
    expect(n.clusters.commerce_cluster!.readPreference).toBe('primary');
    expect(n.clusters.commerce_cluster!.primary.connection.connectionString).toBe('postgres://u:p@db:6543/shop');
  });

  it('applies loadBalancing.weights by node id over per-node weight', () => {
    const n = validateConfiguration({
      c: { schemas: ['s'], primary: node, replicas: [node, node], loadBalancing: { weights: { 'replica-2': 5 } } },
    });
    expect(n.clusters.c!.replicas.map((r) => r.weight)).toEqual([1, 5]);
  });

  it('reports every problem with its path', () => {
    const issues = issuesOf({
      a: { schemas: ['users'], replicas: [] },
      b: { schemas: ['users'], primary: { ...node, port: '5432x' } },
      c: { schemas: [], primary: 'mysql://x' },
    });
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^a\.primary: is required/),
        expect.stringMatching(/^b\.schemas\[0\]: schema "users" is already claimed by cluster "a"/),
        expect.stringMatching(/^b\.primary\.port: must be an integer between 1 and 65535, got "5432x"/),
        expect.stringMatching(/^c\.schemas: must be a non-empty array/),
        expect.stringMatching(/^c\.primary: a connection string must start with postgres:\/\//),
      ]),
    );
    expect(issues).toHaveLength(5);
  });

  it('rejects bad option values', () => {
    const issues = issuesOf({
      c: {
        schemas: ['s'],
        primary: node,
        readPreference: 'nearest',
        consistencyLevel: 'linearizable',
        connectionPool: { min: 10, max: 2 },
        sharding: { strategy: 'range', key: '', partitions: 0 },
        loadBalancing: { healthThreshold: 150 },
      },
    });
    expect(issues.join('\n')).toMatch(/readPreference: must be one of primary, replica, any/);
    expect(issues.join('\n')).toMatch(/consistencyLevel: must be one of/);
    expect(issues.join('\n')).toMatch(/connectionPool\.min: \(10\) must not exceed max \(2\)/);
    expect(issues.join('\n')).toMatch(/sharding\.strategy: only "hash" is supported/);
    expect(issues.join('\n')).toMatch(/sharding\.partitions: must be a positive integer/);
    expect(issues.join('\n')).toMatch(/healthThreshold: must be a number between 0 and 100/);
  });

  it('rejects an empty or non-object configuration', () => {
    expect(issuesOf({})[0]).toMatch(/defines no clusters/);
    expect(issuesOf(null)[0]).toMatch(/must be an object/);
  });

  it('never puts a password in the error message', () => {
    try {
      validateConfiguration({ c: { schemas: ['s'], primary: { ...node, port: -1 } } });
      expect.unreachable();
    } catch (err) {
      expect(String((err as Error).message)).not.toContain('s3cret-pw');
    }
  });

  it('normalises shards', () => {
    const n = validateConfiguration({
      orders_cluster: {
        schemas: ['orders'],
        primary: node,
        sharding: {
          strategy: 'hash',
          key: 'user_id',
          partitions: 4,
          shards: [{ primary: node }, { primary: node, replicas: [node] }],
        },
      },
    });
    const s = n.clusters.orders_cluster!.sharding!;
    expect(s.shards.map((x) => x.id)).toEqual(['shard-0', 'shard-1']);
    expect(s.shards[1]!.replicas[0]!.id).toBe('shard-1/replica-1');
  });

  it('maps pool options to pg names', () => {
    const n = validateConfiguration(
      { c: { schemas: ['s'], primary: node, connectionPool: { max: 50, statementTimeout: 1000 } } },
      { connectionPool: { min: 5, idleTimeoutMillis: 1234 } },
    );
    const cfg = toPgPoolConfig(n.clusters.c!.primary);
    expect(cfg).toMatchObject({ host: '127.0.0.1', max: 50, min: 5, idleTimeoutMillis: 1234, statement_timeout: 1000 });
  });
});

describe('validated once, secrets of every node', () => {
  it('collects the passwords of shards too, and returns a normalized configuration as is', () => {
    const normalized = validateConfiguration({
      orders: {
        schemas: ['orders'],
        primary: { host: 'h0', password: 'primary-secret' },
        replicas: ['postgres://app:replica-secret@h1/db'],
        sharding: {
          strategy: 'hash',
          key: 'user_id',
          partitions: 4,
          shards: [
            { primary: { host: 's0', password: 'shard0-secret' } },
            { primary: 'postgres://app:shard1-secret@s1/db', replicas: [{ host: 's1r', password: 'shard1r-secret' }] },
          ],
        },
      },
    });
    expect([...normalized.secrets].sort()).toEqual(
      ['primary-secret', 'replica-secret', 'shard0-secret', 'shard1-secret', 'shard1r-secret'].sort(),
    );
    expect(isNormalizedConfiguration(normalized)).toBe(true);
    expect(validateConfiguration(normalized)).toBe(normalized);
    expect(isNormalizedConfiguration({ clusters: {}, schemaToCluster: {}, secrets: [] })).toBe(false);
  });
});
