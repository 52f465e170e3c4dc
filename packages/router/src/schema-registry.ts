import { PgmError, type SchemaOptions } from '@pg-multiverse/core';
import type { ClusterRuntime } from './topology.js';
import type { SchemaEntry } from './types.js';

/** Which cluster owns which schema, and which cluster a statement without a schema goes to. */
export interface SchemaRegistry {
  /** The cluster by id; `UNKNOWN_CLUSTER` names the known ones. */
  cluster(id: string): ClusterRuntime;
  /** Cluster id for a schema, else the default cluster (see the router README). */
  resolve(schema?: string, shardKey?: unknown): string;
  /** The entry of a registered schema (its cluster and options); the live object, not a copy. */
  entry(schema: string): SchemaEntry | undefined;
  /** Route `schema` to `clusterId` from now on; returns the cluster it was routed to before, if any. */
  register(schema: string, clusterId: string, options: SchemaOptions): string | undefined;
  schemas(): Record<string, string>;
  /** Changes with every `register` (what was derived from the ownership before is stale then). */
  readonly version: number;
}

export function createSchemaRegistry(
  schemaToCluster: Record<string, string>,
  clusters: ReadonlyMap<string, ClusterRuntime>,
  defaultCluster: string | undefined,
): SchemaRegistry {
  const map = new Map<string, SchemaEntry>();
  for (const [schema, clusterId] of Object.entries(schemaToCluster)) map.set(schema, { clusterId });
  const onlyCluster = clusters.size === 1 ? [...clusters.keys()][0] : undefined;

  function unknownCluster(id: string): PgmError {
    return new PgmError(
      'UNKNOWN_CLUSTER',
      `Unknown cluster "${id}". Known clusters: ${[...clusters.keys()].join(', ') || '(none)'}`,
      { clusterId: id },
    );
  }

  function cluster(id: string): ClusterRuntime {
    const c = clusters.get(id);
    if (!c) throw unknownCluster(id);
    return c;
  }
  if (defaultCluster !== undefined) cluster(defaultCluster);

  let version = 0;

  function known(): string {
    return [...map.keys()].sort().join(', ');
  }

  return {
    cluster,
    resolve(schema, shardKey) {
      if (schema !== undefined) {
        const e = map.get(schema);
        if (!e) {
          throw new PgmError(
            'UNKNOWN_SCHEMA',
            `Unknown schema "${schema}". Known schemas: ${known() || '(none)'}; register it with registerSchema(schema, clusterId)`,
            { schema },
          );
        }
        return e.clusterId;
      }
      if (defaultCluster !== undefined) return defaultCluster;
      if (onlyCluster !== undefined) return onlyCluster;
      if (shardKey !== undefined) {
        const sharded = [...clusters.values()].filter((c) => c.cfg.sharding);
        if (sharded.length === 1) return sharded[0]!.id;
      }
      throw new PgmError(
        'UNKNOWN_SCHEMA',
        `No schema given and no default cluster among ${clusters.size} clusters (${[...clusters.keys()].join(', ')}); pass { schema } (known: ${known()})`,
      );
    },
    entry(schema) {
      return map.get(schema);
    },
    register(schema, clusterId, options) {
      if (typeof schema !== 'string' || schema === '') {
        throw new PgmError('INVALID_ARGUMENT', 'registerSchema: schema must be a non-empty string');
      }
      cluster(clusterId);
      const previous = map.get(schema)?.clusterId;
      map.set(schema, { ...options, clusterId });
      version++;
      return previous;
    },
    schemas() {
      return Object.fromEntries([...map].map(([s, e]) => [s, e.clusterId]));
    },
    get version() {
      return version;
    },
  };
}
