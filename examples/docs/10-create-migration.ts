// Product documentation: "Creating Migration Files" (into a scratch folder).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const migrationsPath = mkdtempSync(join(tmpdir(), 'pgm-example-'));
  const postgres = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath } });
  await postgres.initialize(config);
  try {
    const filePath = await postgres.createMigration('add_user_permissions', {
      targetSchemas: ['users', 'auth'],
      targetClusters: ['users_cluster'],
      description: 'Add user permissions and roles system',
      tags: ['permissions', 'security'],
    });
    log(`Migration created: ${filePath}`);
    return filePath;
  } finally {
    await postgres.close();
  }
}
