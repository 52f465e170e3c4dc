import type { TestProject } from 'vitest/node';
import { installGroupByPolyfills } from './node20-polyfills.js';
import { reapOrphans } from './reaper.js';
import { startTopology, type Topology } from './topology.js';
import type { PgmTopologyContext } from './vitest-context.js';

/** The shared topology of a vitest run (see `PgmTopologyContext`). */
export const SHARED_TOPOLOGY = {
  clusters: {
    users_cluster: { replicas: 2, schemas: ['users', 'auth', 'profiles'] },
    commerce_cluster: { replicas: 0, schemas: ['products', 'orders', 'payments'] },
  },
  redis: true,
} as const;

installGroupByPolyfills();

let topo: Topology | undefined;

/** Vitest globalSetup: starts one topology for the whole run, provides it, stops it at the end. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  reapOrphans(); // servers of earlier runs whose process was killed
  topo = await startTopology({
    clusters: {
      users_cluster: {
        ...SHARED_TOPOLOGY.clusters.users_cluster,
        schemas: [...SHARED_TOPOLOGY.clusters.users_cluster.schemas],
      },
      commerce_cluster: {
        ...SHARED_TOPOLOGY.clusters.commerce_cluster,
        schemas: [...SHARED_TOPOLOGY.clusters.commerce_cluster.schemas],
      },
    },
    redis: SHARED_TOPOLOGY.redis,
  });
  const ctx: PgmTopologyContext = {
    config: topo.config,
    redisUrl: topo.redis!.url,
    clusters: topo.describe(),
    passwordRole: topo.passwordRole,
  };
  project.provide('pgmTopology', ctx);
  return async () => {
    await topo?.stop();
    topo = undefined;
  };
}
