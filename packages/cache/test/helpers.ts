import { quoteIdent } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { inject } from 'vitest';
import type { QueryCache } from '../src/index.js';

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

/**
 * What the facade (PgMultiverse.query) does around a query: reads with cache
 * on go through keyFor / tagsFor / wrap; writes outside a transaction
 * invalidate right after they ran; in a transaction after COMMIT only.
 */
export function facade(cache: QueryCache, pool: pg.Pool, schema: string) {
  let loads = 0;
  const withPath = async (client: pg.PoolClient, sql: string, params: unknown[]) => {
    await client.query(`SET search_path TO ${quoteIdent(schema)}`);
    return client.query(sql, params);
  };
  return {
    get loads() {
      return loads;
    },
    async read(sql: string, params: unknown[] = [], tags: string[] = []) {
      const key = cache.keyFor({ clusterId: 'users_cluster', schema, searchPath: schema, sql, params });
      return cache.wrap(key, { ttlMs: 60_000, tags: cache.tagsFor({ schema, sql, tags }), schema }, async () => {
        loads++;
        const c = await pool.connect();
        try {
          return await withPath(c, sql, params);
        } finally {
          c.release();
        }
      });
    },
    async write(sql: string, params: unknown[] = []) {
      const c = await pool.connect();
      try {
        const r = await withPath(c, sql, params);
        await cache.invalidateWrites([{ schema, sql, clusterId: 'users_cluster' }]);
        return r;
      } finally {
        c.release();
      }
    },
    /** BEGIN; fn(tx); COMMIT and invalidate, or ROLLBACK and invalidate nothing. */
    async transaction<T>(
      fn: (tx: { query: (sql: string, params?: unknown[]) => Promise<pg.QueryResult> }) => Promise<T>,
    ) {
      const c = await pool.connect();
      const writes: { schema: string; sql: string }[] = [];
      try {
        await c.query(`SET search_path TO ${quoteIdent(schema)}`);
        await c.query('BEGIN');
        const out = await fn({
          query: async (sql, params = []) => {
            const r = await c.query(sql, params);
            if (r.command !== 'SELECT') writes.push({ schema, sql });
            return r;
          },
        });
        await c.query('COMMIT');
        await cache.invalidateWrites(writes);
        return out;
      } catch (err) {
        await c.query('ROLLBACK');
        throw err;
      } finally {
        c.release();
      }
    },
  };
}

export async function until<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
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
