// Product documentation: "Migration Status and Management".
import { PgMultiverse } from 'pg-multiverse';
import { type ExampleContext, migrationsPath } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath } });
  await postgres.initialize(config);
  try {
    // Get comprehensive status
    const status = await postgres.getMigrationStatus();
    log(`Total: ${status.totalMigrations}`);
    log(`Applied: ${status.appliedMigrations}`);
    log(`Pending: ${status.pendingMigrations}`);
    // Status by schema
    Object.entries(status.bySchema).forEach(([schema, stats]) => {
      log(`${schema}: ${stats.applied} applied, ${stats.pending} pending`);
      if (stats.lastApplied) log(`  Last applied: ${stats.lastApplied}`);
    });
    // Status by cluster
    Object.entries(status.byCluster).forEach(([cluster, stats]) => {
      log(`${cluster}: ${stats.applied} applied, ${stats.pending} pending`);
    });
    // List all available migrations
    const migrations = postgres.getMigrations();
    migrations.forEach((migration) => {
      log(`${migration.version}: ${migration.name}`);
      log(`  Schemas: ${(migration.targetSchemas ?? []).join(', ')}`);
      log(`  Description: ${migration.description}`);
    });
    return { status, migrations };
  } finally {
    await postgres.close();
  }
}
