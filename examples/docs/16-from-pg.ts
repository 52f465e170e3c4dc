// Product documentation: "Migration Guide" — from a plain pg.Pool to PgMultiverse.
import pg from 'pg';
import { PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config }: ExampleContext) {
  const primary = config.users_cluster!.primary;
  // Before: Direct pg usage
  const pool = new pg.Pool(
    typeof primary === 'string' ? { connectionString: primary } : { ...primary, password: primary.password as string },
  );
  const before = await pool.query('SELECT * FROM users.users ORDER BY id');
  await pool.end();

  // After: PG Multiverse (a single cluster: queries without a schema go to it)
  const postgres = new PgMultiverse();
  await postgres.initialize({ users_cluster: config.users_cluster! });
  try {
    const result = await postgres.query('SELECT * FROM users.users ORDER BY id');
    return { before: before.rows, after: result.rows };
  } finally {
    await postgres.close();
  }
}
