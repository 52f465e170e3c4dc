import { describe, expect, it } from 'vitest';
import { ConfigError } from './errors.js';
import { toPgPoolConfig, validateConfiguration } from './validate-config.js';
import {
  validateCacheOptions,
  validateMigrationOptions,
  validatePgMultiverseOptions,
  validateRouterOptions,
} from './validate-options.js';

const node = { host: '127.0.0.1', port: 5432, database: 'app', user: 'app', password: 's3cret-pw' };

function issuesOf(fn: () => unknown): { path: string; message: string }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return [...(err as ConfigError).issues];
  }
  throw new Error('expected a ConfigError');
}

describe('unknown configuration keys', () => {
  it('replica: instead of replicas: is an issue with a did-you-mean, not a cluster without replicas', () => {
    const issues = issuesOf(() => validateConfiguration({ c: { schemas: ['s'], primary: node, replica: [node] } }));
    expect(issues).toEqual([{ path: 'c.replica', message: expect.stringContaining('replicas') }]);
  });

  it('a typo gets the nearest known key', () => {
    const issues = issuesOf(() => validateConfiguration({ c: { schemas: ['s'], primary: node, readPrefernce: 'x' } }));
    expect(issues[0]).toMatchObject({ path: 'c.readPrefernce', message: expect.stringContaining('"readPreference"') });
  });

  it('pg option names on a node are refused by name with what to write instead, never echoing the password', () => {
    const issues = issuesOf(() =>
      validateConfiguration({
        c: {
          schemas: ['s'],
          primary: { ...node, application_name: 'x', statement_timeout: 10, lock_timeout: '1s', hostname: 'h' },
        },
      }),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'c.primary.application_name',
      'c.primary.statement_timeout',
      'c.primary.lock_timeout',
      'c.primary.hostname',
    ]);
    expect(issues[0]!.message).toContain('applicationName');
    expect(issues[1]!.message).toContain('statementTimeout');
    expect(issues[2]!.message).toContain("options: '-c lock_timeout");
    expect(issues[3]!.message).toContain('"host"');
    expect(JSON.stringify(issues)).not.toContain('s3cret-pw');
  });

  it('options, keepAlive and ssl are carried through to pg', () => {
    const n = validateConfiguration({
      c: {
        schemas: ['s'],
        primary: {
          ...node,
          options: '-c lock_timeout=1234',
          keepAlive: true,
          keepAliveInitialDelayMillis: 5,
          ssl: true,
        },
      },
    });
    expect(toPgPoolConfig(n.clusters.c!.primary)).toMatchObject({
      options: '-c lock_timeout=1234',
      keepAlive: true,
      keepAliveInitialDelayMillis: 5,
      ssl: true,
    });
  });

  it('unknown keys in pools, load balancing, sharding and shards', () => {
    const issues = issuesOf(() =>
      validateConfiguration({
        c: {
          schemas: ['s'],
          primary: node,
          connectionPool: { maxx: 3 },
          loadBalancing: { strategy: 'round-robin', weight: {} },
          sharding: { strategy: 'hash', key: 'k', partitions: 2, shard: [], shards: [{ primary: node, replica: [] }] },
        },
      }),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'c.connectionPool.maxx',
      'c.loadBalancing.weight',
      'c.loadBalancing.strategy',
      'c.sharding.shard',
      'c.sharding.shards[0].replica',
    ]);
    expect(issues[2]!.message).toContain('"round_robin"');
  });

  it('pool defaults merged with a cluster pool are checked too (min <= max)', () => {
    const issues = issuesOf(() =>
      validateConfiguration({ c: { schemas: ['s'], primary: node } }, { connectionPool: { min: 5, max: 2 } }),
    );
    expect(issues).toEqual([{ path: 'c.connectionPool.min', message: expect.stringContaining('must not exceed max') }]);
  });
});

describe('options of every entry point, one issue per problem', () => {
  it('new PgMultiverse(options)', () => {
    const issues = issuesOf(() =>
      validatePgMultiverseOptions({
        enableCache: 'yes',
        connectionPool: { max: -5 },
        cluster: { healthCheckInterval: 0, retryAttempts: 0 },
        cache: { ttl: -1, notify: 'no' },
        transactions: { recoveryIntervalMs: -1 },
        enableCach: true,
      }),
    );
    expect(issues.map((i) => i.path)).toEqual([
      'enableCach',
      'enableCache',
      'cache.ttl',
      'cache.notify',
      'cluster.healthCheckInterval',
      'cluster.retryAttempts',
      'connectionPool.max',
      'transactions.recoveryIntervalMs',
    ]);
    expect(issues[0]!.message).toContain('"enableCache"');
  });

  it('facade-level { min: 5, max: 2 } and healthCheckInterval -1 are refused', () => {
    expect(issuesOf(() => validatePgMultiverseOptions({ connectionPool: { min: 5, max: 2 } }))).toEqual([
      { path: 'connectionPool.min', message: expect.stringContaining('must not exceed max') },
    ]);
    expect(issuesOf(() => validatePgMultiverseOptions({ cluster: { healthCheckInterval: -1 } }))[0]!.path).toBe(
      'cluster.healthCheckInterval',
    );
    expect(() =>
      validatePgMultiverseOptions({ enableCache: true, cluster: { healthCheckInterval: 10 } }),
    ).not.toThrow();
  });

  it('createRouter, createQueryCache and MigrationManager options', () => {
    expect(
      issuesOf(() => validateRouterOptions({ monitr: {}, connectionPool: { max: 0 } })).map((i) => i.path),
    ).toEqual(['createRouter.monitr', 'createRouter.connectionPool.max']);
    expect(issuesOf(() => validateCacheOptions({ maxSize: 0, enableCompression: 1 })).map((i) => i.path)).toEqual([
      'createQueryCache.maxSize',
      'createQueryCache.enableCompression',
    ]);
    expect(
      issuesOf(() => validateMigrationOptions({ clusters: {}, migrationPath: './m', batchSize: 0 })).map((i) => i.path),
    ).toEqual(['MigrationManager.migrationPath', 'MigrationManager.batchSize']);
  });
});
