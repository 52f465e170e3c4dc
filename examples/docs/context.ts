import { fileURLToPath } from 'node:url';
import type { ClusterConfiguration } from 'pg-multiverse';

/** What every documentation example gets: a topology's configuration and a logger. */
export interface ExampleContext {
  /** users_cluster (schemas users, auth, profiles; 2 replicas) and commerce_cluster (products, orders, payments). */
  config: ClusterConfiguration;
  log: (...args: unknown[]) => void;
}

export const migrationsPath = fileURLToPath(new URL('../migrations', import.meta.url));
