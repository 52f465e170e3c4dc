// Adapted from the product documentation: the base migration others depend on.
import type { Migration, MigrationContext } from 'pg-multiverse';

const migration: Migration = {
  version: '20241230110000_create_base',
  name: 'create_base',
  description: 'Shared audit table in every users-cluster schema',
  targetSchemas: ['users', 'auth'],
  tags: ['initial'],
  createdAt: new Date('2024-12-30T11:00:00Z'),
  async up(context: MigrationContext): Promise<void> {
    await context.query(
      'CREATE TABLE IF NOT EXISTS audit_log (id bigserial PRIMARY KEY, event text NOT NULL, at timestamptz NOT NULL DEFAULT now())',
    );
  },
  async down(context: MigrationContext): Promise<void> {
    await context.query('DROP TABLE IF EXISTS audit_log');
  },
};

export default migration;
