import { PgmError, type SqlTextAnalysis } from '@pg-multiverse/core';
import type { SchemaRegistry } from './schema-registry.js';

/** The schema part of `schema.table` as core's analysis prints it (quote_ident style), unquoted; undefined when unqualified. */
export function schemaOfTable(name: string): string | undefined {
  if (name.charCodeAt(0) !== 34 /* " */) {
    const dot = name.indexOf('.');
    return dot < 0 ? undefined : name.slice(0, dot);
  }
  // "Sch""ema".table: the closing quote is the first one not doubled.
  let i = 1;
  for (;;) {
    const q = name.indexOf('"', i);
    if (q < 0) return undefined;
    if (name.charCodeAt(q + 1) === 34) {
      i = q + 2;
      continue;
    }
    return name.charCodeAt(q + 1) === 46 /* . */ ? name.slice(1, q).replace(/""/g, '"') : undefined;
  }
}

const owners = new WeakMap<SqlTextAnalysis, { registry: SchemaRegistry; version: number; owner: string | undefined }>();

/**
 * `clusterOfTables`, remembered per analysis (core's analyses are memoized per text and frozen)
 * until the registry changes: an ORM sends the same few texts over and over.
 */
export function clusterOfTablesMemo(analysis: SqlTextAnalysis, registry: SchemaRegistry): string | undefined {
  const m = owners.get(analysis);
  if (m !== undefined && m.registry === registry && m.version === registry.version) return m.owner;
  const owner = clusterOfTables(analysis, registry);
  owners.set(analysis, { registry, version: registry.version, owner });
  return owner;
}

/**
 * The cluster that owns the registered schemas a statement's schema-qualified
 * tables name (read or written), or undefined when it names none (unqualified
 * tables, or schemas no cluster owns, such as `pg_catalog`). Several clusters:
 * `CROSS_CLUSTER_STATEMENT` naming them (one statement runs on one node).
 */
export function clusterOfTables(analysis: SqlTextAnalysis, registry: SchemaRegistry): string | undefined {
  let owner: string | undefined;
  let ownerSchema = '';
  for (const list of [analysis.read, analysis.written]) {
    for (const table of list) {
      const schema = schemaOfTable(table);
      if (schema === undefined) continue;
      const entry = registry.entry(schema);
      if (entry === undefined || entry.clusterId === owner) continue;
      if (owner !== undefined) {
        throw new PgmError(
          'CROSS_CLUSTER_STATEMENT',
          `One statement references tables of schema "${ownerSchema}" (cluster "${owner}") and "${schema}" (cluster "${entry.clusterId}"); a statement runs on one cluster: split it, or use withTransaction([...]) for an atomic change across clusters`,
          { schema, clusterId: entry.clusterId, details: { clusters: [owner, entry.clusterId] } },
        );
      }
      owner = entry.clusterId;
      ownerSchema = schema;
    }
  }
  return owner;
}
