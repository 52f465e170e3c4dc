// Product documentation: "Rollback Operations".
import { PgMultiverse } from 'pg-multiverse';
import { type ExampleContext, migrationsPath } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const postgres = new PgMultiverse({ enableMigrations: true, migrations: { migrationsPath } });
  await postgres.initialize(config);
  try {
    // Rollback last migration
    const last = await postgres.rollback({ steps: 1 });
    // Rollback to specific version (preview only). The documentation rolls `users` back to
    // create_base; here orders depend on create_users, so the preview stops at add_profiles.
    const preview = await postgres.rollback({
      targetVersion: '20241230130000_add_profiles',
      targetSchemas: ['users'],
      dryRun: true, // Preview rollback without executing
    });
    // Rollback with error handling
    let failure: string | undefined;
    try {
      await postgres.rollback({ steps: 2, force: true });
    } catch (error) {
      failure = (error as Error).message;
      log('Rollback failed:', failure);
    }
    await postgres.migrate(); // restore the latest version for the other examples
    return { last, preview, failure };
  } finally {
    await postgres.close();
  }
}
