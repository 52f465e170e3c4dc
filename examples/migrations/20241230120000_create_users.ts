// From the product documentation ("TypeScript Migrations"); the SQL bodies it omits are filled in.
import type { Migration, MigrationContext } from 'pg-multiverse';

const migration: Migration = {
  version: '20241230120000_create_users',
  name: 'create_users',
  description: 'Create users table with profiles',
  targetSchemas: ['users', 'auth'],
  targetClusters: ['users_cluster'],
  dependencies: ['20241230110000_create_base'],
  tags: ['users', 'initial'],
  createdAt: new Date('2024-12-30T12:00:00Z'),

  async up(context: MigrationContext): Promise<void> {
    context.logger.info(`Creating users table in ${context.schema}`);
    await context.query(`
      CREATE TABLE users (
        id serial PRIMARY KEY,
        email text NOT NULL UNIQUE,
        name text NOT NULL,
        active boolean NOT NULL DEFAULT true,
        last_order timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await context.query('INSERT INTO users (email, name) VALUES ($1, $2), ($3, $4)', [
      'admin@example.com',
      'Admin',
      'user@example.com',
      'User',
    ]);
    context.logger.info('Users table created successfully');
  },

  async down(context: MigrationContext): Promise<void> {
    context.logger.info(`Dropping users table from ${context.schema}`);
    await context.query('DROP TABLE IF EXISTS users');
    context.logger.info('Users table dropped successfully');
  },
};

export default migration;
