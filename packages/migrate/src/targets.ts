import { locationOf, PgmError } from '@pg-multiverse/core';
import type { LoadedMigration, TargetFilter } from './types.js';

/**
 * One (cluster, shard, schema): the unit of history and locking. `shard` is set
 * for clusters sharded over listed servers (`sharding.shards`): each shard's
 * primary keeps its own history of the schema.
 */
export interface Target {
  cluster: string;
  shard?: string;
  schema: string;
}

/** Shard ids by cluster id, for the clusters sharded over listed servers. */
export type ShardMap = Readonly<Record<string, readonly string[]>>;

export const targetKey = (t: Target): string => `${locationOf(t)}/${t.schema}`;

/** The target itself without other fields (a step, a result, a status). */
export const targetOf = (t: Target): Target =>
  t.shard === undefined
    ? { cluster: t.cluster, schema: t.schema }
    : { cluster: t.cluster, shard: t.shard, schema: t.schema };

/** Targets grouped by where they run (one connection each), in first-seen order. */
export function byLocation<T extends Target>(targets: readonly T[]): T[][] {
  const groups = new Map<string, T[]>();
  for (const t of targets) {
    const key = locationOf(t);
    const group = groups.get(key);
    if (group) group.push(t);
    else groups.set(key, [t]);
  }
  return [...groups.values()];
}

/** `(cluster, schema)` on each shard of the cluster, or once when it has none listed. */
function expand(cluster: string, schema: string, shards: ShardMap): Target[] {
  const ids = shards[cluster];
  if (ids === undefined || ids.length === 0) return [{ cluster, schema }];
  return ids.map((shard) => ({ cluster, shard, schema }));
}

/** Throw for schemas/clusters in a filter that the configuration does not know. */
export function checkFilter(filter: TargetFilter, schemaMap: Record<string, string>): void {
  const clusters = new Set(Object.values(schemaMap));
  for (const s of filter.targetSchemas ?? []) {
    if (!(s in schemaMap)) {
      throw new PgmError(
        'UNKNOWN_SCHEMA',
        `Unknown schema "${s}"; known schemas: ${Object.keys(schemaMap).join(', ')}`,
        {
          schema: s,
        },
      );
    }
  }
  for (const c of filter.targetClusters ?? []) {
    if (!clusters.has(c)) {
      throw new PgmError('UNKNOWN_CLUSTER', `Unknown cluster "${c}"; known clusters: ${[...clusters].join(', ')}`, {
        clusterId: c,
      });
    }
  }
}

/**
 * The targets a migration applies to: its `targetSchemas` (default every
 * schema), each on the cluster owning it, narrowed by its `targetClusters`
 * and by the run's filter. Unknown schemas or clusters are errors.
 */
export function targetsOf(
  m: LoadedMigration,
  schemaMap: Record<string, string>,
  filter: TargetFilter = {},
  shards: ShardMap = {},
): Target[] {
  const clusters = new Set(Object.values(schemaMap));
  for (const c of m.targetClusters ?? []) {
    if (!clusters.has(c)) {
      throw new PgmError(
        'UNKNOWN_CLUSTER',
        `Migration ${m.version} targets unknown cluster "${c}"; known clusters: ${[...clusters].join(', ')}`,
        { clusterId: c, details: { version: m.version } },
      );
    }
  }
  const schemas = m.targetSchemas.length > 0 ? m.targetSchemas : Object.keys(schemaMap).sort();
  const out: Target[] = [];
  for (const schema of schemas) {
    const cluster = schemaMap[schema];
    if (cluster === undefined) {
      throw new PgmError(
        'UNKNOWN_SCHEMA',
        `Migration ${m.version} targets unknown schema "${schema}"; known schemas: ${Object.keys(schemaMap).join(', ')}`,
        { schema, details: { version: m.version } },
      );
    }
    if (m.targetClusters && !m.targetClusters.includes(cluster)) continue;
    if (filter.targetSchemas && !filter.targetSchemas.includes(schema)) continue;
    if (filter.targetClusters && !filter.targetClusters.includes(cluster)) continue;
    out.push(...expand(cluster, schema, shards));
  }
  return out;
}

/** Every target the filter selects. */
export function allTargets(
  schemaMap: Record<string, string>,
  filter: TargetFilter = {},
  shards: ShardMap = {},
): Target[] {
  return Object.entries(schemaMap)
    .filter(
      ([s, c]) =>
        (!filter.targetSchemas || filter.targetSchemas.includes(s)) &&
        (!filter.targetClusters || filter.targetClusters.includes(c)),
    )
    .flatMap(([schema, cluster]) => expand(cluster, schema, shards))
    .sort((a, b) => targetKey(a).localeCompare(targetKey(b)));
}
