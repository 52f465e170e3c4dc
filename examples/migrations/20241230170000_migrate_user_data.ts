// From the product documentation ("Data Migrations with Batching"): the old field is the
// e-mail address, the new one its domain, processed 1000 rows at a time.
import type { Migration } from 'pg-multiverse';

function processOldField(email: string): string {
  return email.split('@')[1] ?? '';
}

const migration: Migration = {
  version: '20241230170000_migrate_user_data',
  name: 'migrate_user_data',
  targetSchemas: ['users'],
  dependencies: ['20241230160000_conditional_update'],
  async up(context) {
    await context.query('ALTER TABLE users ADD COLUMN email_domain text');
    let offset = 0;
    const batchSize = 1000;
    let hasMore = true;
    while (hasMore) {
      const users = await context.query<{ id: number; old_field: string }>(
        'SELECT id, email AS old_field FROM users ORDER BY id LIMIT $1 OFFSET $2',
        [batchSize, offset],
      );
      if (users.rows.length === 0) {
        hasMore = false;
        break;
      }
      for (const user of users.rows) {
        await context.query('UPDATE users SET email_domain = $1 WHERE id = $2', [
          processOldField(user.old_field),
          user.id,
        ]);
      }
      offset += batchSize;
      context.logger.info(`Processed ${offset} users`);
    }
  },
  async down(context) {
    await context.query('ALTER TABLE users DROP COLUMN IF EXISTS email_domain');
  },
};

export default migration;
