import type { ClusterConfiguration } from '@pg-multiverse/core';
import { MigrationManager } from '@pg-multiverse/migrate';
import type { LoadedConfig } from './config/load-config.js';
import type { CommandContext } from './context.js';
import { usageError } from './errors.js';
import { listFlag } from './parse-args.js';
import { nearest } from './suggest.js';

/**
 * Stands in for a configuration when a command needs none (`create`, `list`
 * without a config file): the manager validates its clusters up front but
 * connects lazily, and these commands never connect.
 */
export const OFFLINE_CLUSTERS: ClusterConfiguration = {
  offline: { schemas: ['public'], primary: { host: 'localhost', database: 'offline' } },
};

export interface OpenManager {
  mm: MigrationManager;
  config: LoadedConfig;
}

/** Load the configuration, check --schemas/--clusters against it, open and initialize the manager. */
export async function openManager(ctx: CommandContext, requireClusters = true): Promise<OpenManager> {
  const config = await ctx.config(requireClusters);
  if (config.clusters) checkFilters(ctx, config.clusters);
  if (ctx.verbose && !ctx.json) {
    ctx.print(ctx.c.dim(`config: ${config.source ?? '(none)'}`));
    ctx.print(ctx.c.dim(`migrations: ${config.migrations.migrationsPath}`));
  }
  const mm = new MigrationManager({ ...config.migrations, clusters: config.clusters ?? OFFLINE_CLUSTERS });
  try {
    await mm.initialize();
  } catch (err) {
    await mm.close().catch(() => {});
    throw err;
  }
  return { mm, config };
}

function checkFilters(ctx: CommandContext, clusters: ClusterConfiguration): void {
  const clusterIds = Object.keys(clusters);
  const schemas = [...new Set(Object.values(clusters).flatMap((c) => c.schemas ?? []))];
  for (const s of listFlag(ctx.args.flags, 'schemas') ?? []) {
    if (!schemas.includes(s)) {
      const guess = nearest(s, schemas);
      throw usageError(
        `Unknown schema "${s}" in --schemas.${guess ? ` Did you mean "${guess}"?` : ''} Known schemas: ${schemas.join(', ')}.`,
        { schema: s, suggestion: guess },
      );
    }
  }
  for (const id of listFlag(ctx.args.flags, 'clusters') ?? []) {
    if (!clusterIds.includes(id)) {
      const guess = nearest(id, clusterIds);
      throw usageError(
        `Unknown cluster "${id}" in --clusters.${guess ? ` Did you mean "${guess}"?` : ''} Known clusters: ${clusterIds.join(', ')}.`,
        { cluster: id, suggestion: guess },
      );
    }
  }
}

/** The --schemas / --clusters filter for migrate, rollback and status. */
export function targetFilter(ctx: CommandContext): { targetSchemas?: string[]; targetClusters?: string[] } {
  const out: { targetSchemas?: string[]; targetClusters?: string[] } = {};
  const schemas = listFlag(ctx.args.flags, 'schemas');
  const clusters = listFlag(ctx.args.flags, 'clusters');
  if (schemas) out.targetSchemas = schemas;
  if (clusters) out.targetClusters = clusters;
  return out;
}
