import { PgmError } from '@pg-multiverse/core';
import type { LoadedMigration, TargetFilter } from './types.js';

/** One (cluster, schema) pair: the unit of history and locking. */
export interface Target {
  cluster: string;
  schema: string;
}

export const targetKey = (t: Target): string => `${t.cluster}/${t.schema}`;

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
export function targetsOf(m: LoadedMigration, schemaMap: Record<string, string>, filter: TargetFilter = {}): Target[] {
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
    out.push({ cluster, schema });
  }
  return out;
}

/** Every target the filter selects. */
export function allTargets(schemaMap: Record<string, string>, filter: TargetFilter = {}): Target[] {
  return Object.entries(schemaMap)
    .filter(
      ([s, c]) =>
        (!filter.targetSchemas || filter.targetSchemas.includes(s)) &&
        (!filter.targetClusters || filter.targetClusters.includes(c)),
    )
    .map(([schema, cluster]) => ({ cluster, schema }))
    .sort((a, b) => targetKey(a).localeCompare(targetKey(b)));
}
