// Product documentation: "Running Migrations" with options and progress events.
import { PgMultiverse } from 'pg-multiverse';
import { type ExampleContext, migrationsPath } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath } });
  await postgres.initialize(config);
  const events: string[] = [];
  postgres.getMigrationManager().on('migrationStarted', (data) => {
    events.push(`start ${data.name}@${data.schema}`);
    log(`⚡ Starting: ${data.name} on ${data.schema}@${data.cluster}`);
  });
  postgres.getMigrationManager().on('migrationCompleted', (data) => {
    events.push(`done ${data.name}@${data.schema}`);
    log(`✅ Completed: ${data.name} (${data.duration}ms)`);
  });
  try {
    // Run migrations with options
    const plan = await postgres.migrate({
      targetVersion: '20241230120000_create_users', // Run up to specific version
      targetSchemas: ['users', 'auth'], // Specific schemas only
      targetClusters: ['users_cluster'], // Specific clusters only
      dryRun: true, // Show what would run without executing
      parallel: true, // Run in parallel where possible
      maxParallel: 4, // Max parallel executions
      continueOnError: false, // Stop on first error
    });
    // Run all pending migrations
    const result = await postgres.migrate();
    return { plan, result, events };
  } finally {
    await postgres.close();
  }
}
