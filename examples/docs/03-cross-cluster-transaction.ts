// Product documentation: "Cross-cluster transactions".
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({ enableTransactions: true });
  await postgres.initialize(config);
  try {
    const userId = 1;
    const total = 99.5;
    const order = await postgres.withTransaction(['users', 'orders'], async (tx) => {
      // Update user in users_cluster
      await tx.query('UPDATE users SET last_order = NOW() WHERE id = $1', [userId], { schema: 'users' });
      // Create order in orders_cluster
      const order = await tx.query('INSERT INTO orders (user_id, total) VALUES ($1, $2) RETURNING *', [userId, total], {
        schema: 'orders',
      });
      return order.rows[0];
    });
    log('order created', order);
    return order;
  } finally {
    await postgres.close();
  }
}
