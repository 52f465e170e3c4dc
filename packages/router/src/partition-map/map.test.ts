import { isPgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { guardFunctionName, partitionPredicate } from './guard.js';
import { checkMap, mapFromConfig, mapFromRow, nextMap, partitionsOf, sameOwners } from './map.js';

const config = mapFromConfig('orders', 4, [
  { id: 'shard-0', partitions: [0, 2] },
  { id: 'shard-1', partitions: [1, 3] },
  { id: 'shard-2', partitions: [] },
]);

describe('partition map', () => {
  it('is built from the configuration as version 1 and lists each shard', () => {
    expect(config).toMatchObject({ version: 1, partitions: 4, fromConfig: true });
    expect(config.owners).toEqual(['shard-0', 'shard-1', 'shard-0', 'shard-1']);
    expect(partitionsOf(config, 'shard-1')).toEqual([1, 3]);
    expect(partitionsOf(config, 'shard-2')).toEqual([]);
    expect(Object.isFrozen(config.owners)).toBe(true);
  });

  it('compares owners and derives the next version', () => {
    const next = nextMap(config, { version: 2, owners: ['shard-0', 'shard-2', 'shard-0', 'shard-1'] });
    expect(next.fromConfig).toBe(false);
    expect(sameOwners(config, next)).toBe(false);
    expect(sameOwners(config, nextMap(config, { version: 5 }))).toBe(true);
  });

  it('reads a stored row (JSON keys are strings; empty stray lists dropped)', () => {
    const m = mapFromRow('orders', {
      version: '7',
      partitions: 2,
      owners: ['a', 'b'],
      moved: { 1: { from: 'a', to: 'b', version: 7, lsn: '0/10' } },
      strays: { a: [1], b: [] },
    });
    expect(m.version).toBe(7);
    expect(m.moved[1]).toEqual({ from: 'a', to: 'b', version: 7, lsn: '0/10' });
    expect(m.strays).toEqual({ a: [1] });
  });

  it('refuses a map naming shards the configuration does not list, naming them', () => {
    const bad = nextMap(config, { version: 3, owners: ['shard-0', 'shard-9', 'shard-0', 'shard-9'] });
    try {
      checkMap(bad, ['shard-0', 'shard-1', 'shard-2'], 'The stored partition map');
      expect.unreachable();
    } catch (err) {
      expect(isPgmError(err, 'PARTITION_MAP_INVALID')).toBe(true);
      expect((err as Error).message).toMatch(/shard "shard-9" \(partitions 1, 3\) is not listed in the configuration/);
    }
    expect(() => checkMap(config, ['shard-0', 'shard-1', 'shard-2'], 'x')).not.toThrow();
  });
});

describe('guard SQL', () => {
  it('keeps function names within PostgreSQL 63-byte identifiers, distinct per cluster', () => {
    expect(guardFunctionName('orders', 'int8')).toBe('guard_orders_int8');
    const a = guardFunctionName(`${'x'.repeat(70)}a`, 'text');
    const b = guardFunctionName(`${'x'.repeat(70)}b`, 'text');
    expect(Buffer.byteLength(a)).toBeLessThanOrEqual(63);
    expect(a).not.toBe(b);
  });

  it('filters by owned partitions with the server-side hash (NULL keys are partition 0)', () => {
    expect(partitionPredicate('pgm_sharding', 'user_id', 'int8', 4, [])).toBe('false');
    expect(partitionPredicate('pgm_sharding', 'user_id', 'int8', 4, [0, 2])).toBe(
      '("user_id" IS NULL AND 0 IN (0, 2) OR "pgm_sharding"."partition_of"(hashint8extended(("user_id")::int8, 8816678312871386365), 4) IN (0, 2))',
    );
  });
});
