// Product documentation: "Multi-Cluster Architecture" configuration.
import { type ClusterConfiguration, PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const users = config.users_cluster!;
  const commerce = config.commerce_cluster!;
  const clusterConfig: ClusterConfiguration = {
    // User data cluster
    users_cluster: {
      schemas: ['users', 'profiles', 'auth'],
      primary: users.primary,
      replicas: users.replicas ?? [],
      readPreference: 'replica',
      consistencyLevel: 'eventual',
    },
    // Commerce cluster
    commerce_cluster: {
      schemas: ['products', 'orders', 'payments'],
      primary: commerce.primary,
      readPreference: 'primary',
      consistencyLevel: 'strong',
    },
  };
  const postgres = new PgMultiverse();
  await postgres.initialize(clusterConfig);
  try {
    const a = await postgres.query('SELECT count(*)::int AS n, pg_is_in_recovery() AS replica FROM users', [], {
      schema: 'users',
    });
    const b = await postgres.query('SELECT count(*)::int AS n, pg_is_in_recovery() AS replica FROM products', [], {
      schema: 'products',
    });
    log('users read on a replica:', a.rows[0], 'products read on the primary:', b.rows[0]);
    return { users: a.rows[0], products: b.rows[0] };
  } finally {
    await postgres.close();
  }
}
