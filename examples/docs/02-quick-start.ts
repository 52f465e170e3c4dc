// Product documentation: the first quick start (typed, cached, routed query).
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

interface User {
  id: number;
  email: string;
  name: string;
  active: boolean;
}

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({
    enableCache: true,
    enableMetrics: true,
    enableTransactions: true,
  });
  await postgres.initialize(config);
  try {
    const users = await postgres.query<User>('SELECT * FROM users WHERE active = $1', [true], {
      schema: 'users', // Auto-routes to users_cluster
      cache: true, // Cache results
      cacheTtl: 300000, // 5 minute cache
    });
    users.rows.forEach((user) => {
      log(`${user.name} <${user.email}>`);
    });
    const again = await postgres.query<User>('SELECT * FROM users WHERE active = $1', [true], {
      schema: 'users',
      cache: true,
      cacheTtl: 300000,
    });
    return { rows: users.rows, again: again.rows, metrics: postgres.getMetrics() };
  } finally {
    await postgres.close();
  }
}
