import type { PartitionMapConfig } from './config.js';
import type { ConfigIssue } from './errors.js';
import { checkKnownKeys } from './validate-options.js';

/** `sharding.partitionMap` after defaults. */
export interface NormalizedPartitionMapConfig {
  /** Cluster id whose primary stores the map; `undefined`: the cluster's first shard. */
  coordinator: string | undefined;
  schema: string;
  rerouteTimeoutMs: number;
}

export const DEFAULT_PARTITION_MAP_SCHEMA = 'pgm_sharding';
const DEFAULT_REROUTE_TIMEOUT_MS = 30_000;
const SCHEMA_RE = /^[a-z_][a-z0-9_]*$/;

/**
 * The partitions each listed shard holds: its own `partitions` list when the
 * configuration gives them (every shard must, each partition exactly once),
 * else the default placement `p -> shards[p % shards.length]`. Returns one
 * list per shard, in shard order; pushes an issue for every problem.
 */
export function placePartitions(
  shards: ReadonlyArray<{ id: string; partitions?: unknown }>,
  partitions: number,
  path: string,
  issues: ConfigIssue[],
): number[][] {
  const listed = shards.filter((s) => s.partitions !== undefined).length;
  if (listed === 0) {
    const out = shards.map(() => [] as number[]);
    for (let p = 0; p < partitions; p++) out[p % shards.length]!.push(p);
    return out;
  }
  if (listed !== shards.length) {
    const missing = shards.flatMap((s, i) => (s.partitions === undefined ? [`shards[${i}] (${s.id})`] : []));
    issues.push({
      path: `${path}.shards`,
      message: `either every shard lists its partitions or none does; ${missing.join(', ')} ${missing.length === 1 ? 'has' : 'have'} no partitions list (write partitions: [] for a shard that holds none yet)`,
    });
    return shards.map(() => []);
  }
  const owner = new Map<number, string>();
  const out: number[][] = [];
  shards.forEach((s, i) => {
    const sp = `${path}.shards[${i}].partitions`;
    const list: number[] = [];
    out.push(list);
    if (!Array.isArray(s.partitions)) {
      issues.push({ path: sp, message: `must be an array of partition numbers in [0, ${partitions})` });
      return;
    }
    for (const p of s.partitions as unknown[]) {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p >= partitions) {
        issues.push({
          path: sp,
          message: `${JSON.stringify(p)} is not a partition: expected an integer in [0, ${partitions})`,
        });
        continue;
      }
      const before = owner.get(p);
      if (before !== undefined) {
        issues.push({
          path: sp,
          message: `partition ${p} is listed by shard "${before}" and shard "${s.id}": each partition must be held by exactly one shard`,
        });
        continue;
      }
      owner.set(p, s.id);
      list.push(p);
    }
    list.sort((a, b) => a - b);
  });
  const orphans: number[] = [];
  for (let p = 0; p < partitions; p++) if (!owner.has(p)) orphans.push(p);
  if (orphans.length > 0) {
    issues.push({
      path: `${path}.shards`,
      message: `partition${orphans.length === 1 ? '' : 's'} ${orphans.join(', ')} ${orphans.length === 1 ? 'is' : 'are'} held by no shard: list ${orphans.length === 1 ? 'it' : 'them'} in one shard's partitions`,
    });
  }
  return out;
}

/** Validate `sharding.partitionMap` (the coordinator's existence is checked once every cluster is known). */
export function checkPartitionMapConfig(
  v: unknown,
  path: string,
  issues: ConfigIssue[],
): NormalizedPartitionMapConfig | false {
  if (v === false) return false;
  const out: NormalizedPartitionMapConfig = {
    coordinator: undefined,
    schema: DEFAULT_PARTITION_MAP_SCHEMA,
    rerouteTimeoutMs: DEFAULT_REROUTE_TIMEOUT_MS,
  };
  if (v === undefined) return out;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    issues.push({ path, message: 'must be false or an object { coordinator?, schema?, rerouteTimeoutMs? }' });
    return out;
  }
  const c = v as PartitionMapConfig;
  checkKnownKeys(c as Record<string, unknown>, ['coordinator', 'schema', 'rerouteTimeoutMs'], path, issues);
  if (c.coordinator !== undefined) {
    if (typeof c.coordinator !== 'string' || c.coordinator === '')
      issues.push({ path: `${path}.coordinator`, message: 'must be the id of a cluster of this configuration' });
    else out.coordinator = c.coordinator;
  }
  if (c.schema !== undefined) {
    if (typeof c.schema !== 'string' || !SCHEMA_RE.test(c.schema))
      issues.push({
        path: `${path}.schema`,
        message: `must be a lower-case identifier (letters, digits, _), got ${JSON.stringify(c.schema)}`,
      });
    else out.schema = c.schema;
  }
  if (c.rerouteTimeoutMs !== undefined) {
    if (typeof c.rerouteTimeoutMs !== 'number' || !Number.isFinite(c.rerouteTimeoutMs) || c.rerouteTimeoutMs < 0)
      issues.push({ path: `${path}.rerouteTimeoutMs`, message: 'must be a non-negative number of milliseconds' });
    else out.rerouteTimeoutMs = c.rerouteTimeoutMs;
  }
  return out;
}
