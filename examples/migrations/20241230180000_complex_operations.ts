// From the product documentation ("Production Safety"): a migration that manages its own
// BEGIN/COMMIT. It runs with `transaction: false`, so its statements are its own transaction.
import type { Migration } from 'pg-multiverse';

const migration: Migration = {
  version: '20241230180000_complex_operations',
  name: 'complex_operations',
  targetSchemas: ['orders'],
  dependencies: ['20241230150000_create_orders'],
  transaction: false,
  async up(context) {
    await context.query('BEGIN');
    try {
      await context.query('CREATE TABLE order_totals (user_id integer PRIMARY KEY, total numeric(14,2) NOT NULL)');
      await context.query('INSERT INTO order_totals SELECT user_id, sum(total) FROM orders GROUP BY user_id');
      await context.query('COMMIT');
    } catch (error) {
      await context.query('ROLLBACK');
      throw error;
    }
  },
  async down(context) {
    await context.query('DROP TABLE IF EXISTS order_totals');
  },
};

export default migration;
