// From the product documentation ("Cross-Cluster Dependencies"): orders live on another
// cluster than users, so the reference is by value (no foreign key across clusters).
import type { Migration } from 'pg-multiverse';

const migration: Migration = {
  version: '20241230150000_create_orders',
  name: 'create_orders',
  targetSchemas: ['orders'],
  dependencies: ['20241230120000_create_users'], // Users must exist first
  async up(context) {
    await context.query(`
      CREATE TABLE orders (
        id serial PRIMARY KEY,
        user_id integer NOT NULL,
        total numeric(12,2) NOT NULL CHECK (total >= 0),
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  },
  async down(context) {
    await context.query('DROP TABLE IF EXISTS orders');
  },
};

export default migration;
