// The commerce cluster's catalogue (the documentation's caching examples query it).
import type { Migration } from 'pg-multiverse';

const migration: Migration = {
  version: '20241230140000_create_products',
  name: 'create_products',
  description: 'Products catalogue',
  targetSchemas: ['products'],
  async up(context) {
    await context.query(
      'CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2) NOT NULL, stock integer NOT NULL DEFAULT 0)',
    );
    await context.query(
      "INSERT INTO products (name, price, stock) VALUES ('Teapot', 24.50, 10), ('Cup', 6.00, 40), ('Kettle', 39.90, 5)",
    );
  },
  async down(context) {
    await context.query('DROP TABLE IF EXISTS products');
  },
};

export default migration;
