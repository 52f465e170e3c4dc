import { analyzeShardKey, PgmError, type ShardKeyAnalysis, type ShardKeyValue } from '@pg-multiverse/core';
import { hashShard, type ShardKey } from './hash-shard.js';
import type { ClusterRuntime, GroupRuntime } from './topology.js';

export interface ShardChoice {
  partition: number;
  group: GroupRuntime;
}

/**
 * THE rule of which group (listed shard) holds partition `partition` of a
 * sharded cluster: the owner the cluster's partition map in force names
 * (`c.owners`, see partition-map/; by default the configuration's
 * `p % shards.length`). Every other place asks this function (never computes it).
 */
export function groupOfPartition(c: ClusterRuntime, partition: number): GroupRuntime {
  return c.owners ? c.owners[partition]! : c.groups[0]!;
}

/** The one group holding `partition`, as a list (a plan's `groups`; the group's own, no allocation). */
function groupsOf(c: ClusterRuntime, partition: number): readonly GroupRuntime[] {
  return groupOfPartition(c, partition).alone;
}

/** `[p]` for the partitions of a point statement, shared (plans never change their lists). */
const ONE_PARTITION: Array<readonly number[]> = [];
function onePartition(p: number): readonly number[] {
  return (ONE_PARTITION[p] ??= Object.freeze([p]));
}

/**
 * Partition of a non-null `shardKey` on a sharded cluster: the configured
 * `shardFunction`, else PostgreSQL's hash partitioning (`hashShard` with the
 * configured `keyType`; without one, `int8` for numbers and bigints, `text`
 * for strings).
 */
export function partitionOf(c: ClusterRuntime, shardKey: unknown): number {
  const s = c.cfg.sharding!;
  const partition = s.shardFunction
    ? s.shardFunction(shardKey, s.partitions)
    : s.keyType
      ? hashShard(shardKey as ShardKey, s.partitions, s.keyType)
      : hashShard(shardKey as ShardKey, s.partitions);
  if (!Number.isInteger(partition) || partition < 0 || partition >= s.partitions) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `Shard function of cluster "${c.id}" returned ${String(partition)}; expected an integer in [0, ${s.partitions})`,
      { clusterId: c.id },
    );
  }
  return partition;
}

/**
 * Partition of `shardKey` on a sharded cluster and the group holding it. A
 * missing key is `SHARD_KEY_REQUIRED` (for calls that must name one shard,
 * e.g. `router.primary(clusterId, shardKey)`).
 */
export function chooseShard(c: ClusterRuntime, shardKey: unknown): ShardChoice {
  const s = c.cfg.sharding;
  if (!s) return { partition: 0, group: c.groups[0]! };
  if (shardKey === undefined || shardKey === null) {
    throw new PgmError(
      'SHARD_KEY_REQUIRED',
      `Cluster "${c.id}" is sharded by "${s.key}" (${s.partitions} partitions): pass { shardKey } to pick the shard`,
      { clusterId: c.id },
    );
  }
  const partition = partitionOf(c, shardKey);
  return { partition, group: groupOfPartition(c, partition) };
}

/** Where a statement on a sharded cluster runs: the partitions it is confined to and the groups holding them. */
export interface ShardTargets {
  /** Partitions the statement is confined to, ascending; undefined: every partition. */
  partitions: readonly number[] | undefined;
  /** Groups involved, in the cluster's order: one (routed like an unsharded statement), or several (cross-shard). */
  groups: readonly GroupRuntime[];
  /** How the targets were found (`shardKey option`, `user_id in ($1)`, `no condition on the key for orders`, ...). */
  reason: string;
  /** The SQL analysis behind it (undefined when an explicit `shardKey` decided). */
  analysis: ShardKeyAnalysis | undefined;
}

/** A literal of the SQL text, typed for the cluster's key: integers for int keys, the text otherwise. */
function literalKey(c: ClusterRuntime, v: ShardKeyValue & { literal: string }): unknown {
  const type = c.cfg.sharding!.keyType;
  if (c.cfg.sharding!.shardFunction && /^[+-]?\d+$/.test(v.literal)) {
    // a custom shard function gets what an application would pass: a number (a string when unsafe)
    const n = Number(v.literal);
    return Number.isSafeInteger(n) ? n : v.literal;
  }
  if (type === 'int4' || type === 'int8' || (type === undefined && /^[+-]?\d+$/.test(v.literal))) {
    if (!/^\s*[+-]?\d+\s*$/.test(v.literal)) return v.literal; // hashShard says what is wrong with it
    return BigInt(v.literal.trim());
  }
  return v.literal;
}

/**
 * The partitions of the key values a statement is confined to, typed per the
 * configured `keyType` (a `$n` takes the parameter's value; `= ANY($n)` each
 * element; an integer literal is a bigint, or a number for a custom `shardFunction`). A NULL key is partition 0 (PostgreSQL hashes a NULL partition key
 * to 0). Undefined when a value is not available (a missing parameter, a
 * non-array for `ANY`).
 */
export function partitionsOfValues(
  c: ClusterRuntime,
  values: readonly ShardKeyValue[],
  params: readonly unknown[] | undefined,
): number[] | undefined {
  const out = new Set<number>();
  const add = (key: unknown) => out.add(key === null || key === undefined ? 0 : partitionOf(c, key));
  for (const v of values) {
    if ('param' in v) {
      if (params === undefined || v.param < 1 || v.param > params.length) return undefined;
      const value = params[v.param - 1];
      if (v.array) {
        if (!Array.isArray(value)) return undefined;
        for (const x of value) add(x);
      } else add(value);
    } else if ('literal' in v) add(literalKey(c, v));
    else add(null);
  }
  return [...out].sort((a, b) => a - b);
}

/**
 * The targets of one statement on a cluster: an explicit `shardKey` wins;
 * otherwise the key is looked for in the SQL (core's `analyzeShardKey`) and
 * the statement is confined to the groups holding its values, or concerns
 * every group when the values cannot be determined (never a guess). A
 * cluster whose own nodes hold every partition has one group: no analysis.
 */
export function shardTargets(
  c: ClusterRuntime,
  sql: string,
  shardKey: unknown,
  params: readonly unknown[] | undefined,
  tables: { readonly read: readonly string[]; readonly written: readonly string[] },
): ShardTargets {
  const s = c.cfg.sharding!;
  if (shardKey !== undefined && shardKey !== null) {
    const { partition, group } = chooseShard(c, shardKey);
    return { partitions: onePartition(partition), groups: group.alone, reason: 'shardKey option', analysis: undefined };
  }
  if (c.groups.length === 1)
    return { partitions: undefined, groups: c.groups, reason: 'one server', analysis: undefined };
  const analysis = analyzeShardKey(sql, s.key);
  // A safety net between the two analyses: fewer table references than distinct tables means the
  // key analysis missed one; never confine such a statement.
  if (
    analysis.values !== undefined &&
    analysis.relations < tables.read.length + tables.written.length &&
    analysis.relations < new Set([...tables.read, ...tables.written]).size
  ) {
    return { partitions: undefined, groups: c.groups, reason: 'tables the key analysis does not see', analysis };
  }
  if (analysis.values === undefined)
    return { partitions: undefined, groups: c.groups, reason: analysis.reason, analysis };
  if (analysis.values.length === 0) {
    // reads no table: any one shard answers
    return { partitions: undefined, groups: [groupOfPartition(c, 0)], reason: analysis.reason, analysis };
  }
  const one = analysis.values.length === 1 ? analysis.values[0]! : undefined;
  if (one !== undefined && 'param' in one && one.array !== true && params !== undefined && one.param <= params.length) {
    // the hot path: one `key = $n`
    const value = params[one.param - 1];
    const partition = value === null || value === undefined ? 0 : partitionOf(c, value);
    return { partitions: onePartition(partition), groups: groupsOf(c, partition), reason: analysis.reason, analysis };
  }
  const partitions = partitionsOfValues(c, analysis.values, params);
  if (partitions === undefined) {
    return { partitions: undefined, groups: c.groups, reason: `${analysis.reason} (value not given)`, analysis };
  }
  if (partitions.length === 0) {
    // `= ANY('{}')`: no row can match; any one shard answers
    return { partitions, groups: [groupOfPartition(c, 0)], reason: analysis.reason, analysis };
  }
  if (partitions.length === 1)
    return { partitions, groups: groupsOf(c, partitions[0]!), reason: analysis.reason, analysis };
  const wanted = new Set(partitions.map((p) => groupOfPartition(c, p)));
  const groups = wanted.size === 1 ? [...wanted] : c.groups.filter((g) => wanted.has(g));
  return { partitions, groups, reason: analysis.reason, analysis };
}
