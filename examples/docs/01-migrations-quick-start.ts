// Product documentation: "Enable migrations" quick start.
import { PgMultiverse } from 'pg-multiverse';
import { type ExampleContext, migrationsPath } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({
    enableMigrations: true,
    migrations: {
      migrationsPath,
      autoCreateMigrationsTable: true,
    },
  });
  await postgres.initialize(config);
  try {
    // Run pending migrations
    await postgres.migrate();
    // Check migration status
    const status = await postgres.getMigrationStatus();
    log(`Applied: ${status.appliedMigrations}, Pending: ${status.pendingMigrations}`);
    // Rollback last migration
    await postgres.rollback({ steps: 1 });
    const after = await postgres.getMigrationStatus();
    log(`After rollback: Applied: ${after.appliedMigrations}, Pending: ${after.pendingMigrations}`);
    await postgres.migrate(); // back to the latest version for the other examples
    return { before: status, afterRollback: after };
  } finally {
    await postgres.close();
  }
}
