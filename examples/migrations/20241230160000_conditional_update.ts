// From the product documentation ("Conditional Migrations").
import type { Migration } from 'pg-multiverse';

const migration: Migration = {
  version: '20241230160000_conditional_update',
  name: 'conditional_update',
  targetSchemas: ['users'],
  dependencies: ['20241230120000_create_users'],
  async up(context) {
    // Check if column exists before adding
    const result = await context.query(
      `SELECT 1 FROM information_schema.columns
        WHERE table_schema = $1 AND table_name = 'users' AND column_name = 'last_login'`,
      [context.schema],
    );
    if (result.rows.length === 0) {
      await context.query('ALTER TABLE users ADD COLUMN last_login timestamptz');
      context.logger.info('Added last_login column');
    } else {
      context.logger.info('last_login column already exists, skipping');
    }
  },
  async down(context) {
    await context.query('ALTER TABLE users DROP COLUMN IF EXISTS last_login');
  },
};

export default migration;
