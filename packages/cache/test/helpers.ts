import { quoteIdent } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { inject } from 'vitest';

export const ctx = inject('pgmTopology');
export const primaryConn = () => {
  const p = ctx.config.users_cluster!.primary;
  return { host: p.host, port: p.port, database: p.database, user: p.user, password: p.password };
};

/** A table `<schema>.items (id int primary key, name text)` with rows 1 and 2, on the users_cluster primary. */
export async function makeSchema(pool: pg.Pool, prefix: string): Promise<string> {
  const schema = uniqueName(prefix);
  const s = quoteIdent(schema);
  await pool.query(`CREATE SCHEMA ${s}`);
  await pool.query(
    `CREATE TABLE ${s}.items (id int PRIMARY KEY, name text NOT NULL, at timestamptz, big int8, blob bytea)`,
  );
  await pool.query(
    `INSERT INTO ${s}.items VALUES (1, 'one', '2024-01-02T03:04:05Z', 9007199254740993, '\\x00ff'), (2, 'two', NULL, NULL, NULL)`,
  );
  return schema;
}

export const newPool = () => new pg.Pool({ ...primaryConn(), max: 4 });

export async function until<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const dropSchema = (pool: pg.Pool, schema: string) =>
  pool.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
