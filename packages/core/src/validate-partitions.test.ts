import { describe, expect, it } from 'vitest';
import type { ConfigIssue } from './errors.js';
import { validateConfiguration } from './validate-config.js';
import { checkPartitionMapConfig, placePartitions } from './validate-partitions.js';

const shards = (lists: Array<number[] | undefined>) =>
  lists.map((partitions, i) => ({ id: `shard-${i}`, ...(partitions ? { partitions } : {}) }));

function place(lists: Array<number[] | undefined>, partitions = 4) {
  const issues: ConfigIssue[] = [];
  const out = placePartitions(shards(lists), partitions, 'c.sharding', issues);
  return { out, issues: issues.map((i) => `${i.path}: ${i.message}`) };
}

describe('placePartitions', () => {
  it('defaults to p % shards.length (what configurations meant before maps existed)', () => {
    expect(place([undefined, undefined, undefined], 8)).toEqual({
      out: [
        [0, 3, 6],
        [1, 4, 7],
        [2, 5],
      ],
      issues: [],
    });
  });

  it('takes listed partitions, sorted; a shard may hold none', () => {
    expect(place([[3, 0], [1, 2], []])).toEqual({ out: [[0, 3], [1, 2], []], issues: [] });
  });

  it('names a partition listed twice, partitions held by nobody, and numbers out of range', () => {
    expect(
      place([
        [0, 1],
        [1, 2],
      ]).issues,
    ).toEqual([
      'c.sharding.shards[1].partitions: partition 1 is listed by shard "shard-0" and shard "shard-1": each partition must be held by exactly one shard',
      "c.sharding.shards: partition 3 is held by no shard: list it in one shard's partitions",
    ]);
    expect(
      place([
        [0, 1, 4],
        [2, 3.5],
      ]).issues,
    ).toEqual([
      'c.sharding.shards[0].partitions: 4 is not a partition: expected an integer in [0, 4)',
      'c.sharding.shards[1].partitions: 3.5 is not a partition: expected an integer in [0, 4)',
      "c.sharding.shards: partition 3 is held by no shard: list it in one shard's partitions",
    ]);
  });

  it('refuses a mix of listed and unlisted shards', () => {
    expect(place([[0, 1, 2, 3], undefined]).issues).toEqual([
      'c.sharding.shards: either every shard lists its partitions or none does; shards[1] (shard-1) has no partitions list (write partitions: [] for a shard that holds none yet)',
    ]);
  });
});

describe('checkPartitionMapConfig', () => {
  it('applies defaults, accepts false, refuses unknown keys and bad values', () => {
    const issues: ConfigIssue[] = [];
    expect(checkPartitionMapConfig(undefined, 'p', issues)).toEqual({
      coordinator: undefined,
      schema: 'pgm_sharding',
      rerouteTimeoutMs: 30000,
    });
    expect(checkPartitionMapConfig(false, 'p', issues)).toBe(false);
    checkPartitionMapConfig({ schema: 'X-Y', rerouteTimeoutMs: -1, coordinatr: 'a' }, 'p', issues);
    expect(issues.map((i) => i.path).sort()).toEqual(['p.coordinatr', 'p.rerouteTimeoutMs', 'p.schema']);
  });
});

describe('validateConfiguration: sharding.shards[].partitions', () => {
  const node = { host: 'localhost', database: 'db', user: 'u' };
  const cfg = (extra: Record<string, unknown>, lists: Array<number[] | undefined>) => ({
    c: {
      schemas: ['s'],
      primary: node,
      sharding: {
        strategy: 'hash',
        key: 'k',
        partitions: 2,
        shards: lists.map((p) => ({ primary: node, ...(p ? { partitions: p } : {}) })),
        ...extra,
      },
    },
  });

  it('normalizes every shard with its partitions; more shards than partitions is fine when listed', () => {
    const n = validateConfiguration(cfg({}, [[0], [1], []]));
    expect(n.clusters.c!.sharding!.shards.map((s) => s.partitions)).toEqual([[0], [1], []]);
    expect(n.clusters.c!.sharding!.partitionMap).toMatchObject({ schema: 'pgm_sharding' });
    expect(() => validateConfiguration(cfg({}, [undefined, undefined, undefined]))).toThrow(
      /has 3 shards for 2 partitions/,
    );
  });

  it('checks that a coordinator names a cluster of the configuration', () => {
    expect(() => validateConfiguration(cfg({ partitionMap: { coordinator: 'x' } }, [[0, 1], []]))).toThrow(
      /c\.sharding\.partitionMap\.coordinator: names no cluster of this configuration: "x"/,
    );
  });
});
