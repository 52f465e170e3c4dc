import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueryCache } from '../src/index.js';
import { dropSchema, facade, makeSchema, newPool, until } from './helpers.js';

// One application instance with the default memory store, against the real
// users_cluster primary of the shared topology.

let pool: pg.Pool;
let schema: string;

beforeAll(async () => {
  pool = newPool();
  schema = await makeSchema(pool, 'cache_inv');
});
afterAll(async () => {
  await dropSchema(pool, schema);
  await pool.end();
});

const names = (r: { value: unknown }) => (r.value as pg.QueryResult<{ name: string }>).rows.map((x) => x.name);

describe('cache on real PostgreSQL', () => {
  it('serves a cached read, and after a write to the table the reread has the new row', async () => {
    const cache = createQueryCache();
    const db = facade(cache, pool, schema);
    const q = 'SELECT name FROM items WHERE id > $1 ORDER BY id';
    expect(names(await db.read(q, [0]))).toEqual(['one', 'two']);
    const hit = await db.read(q, [0]);
    expect(hit.hit).toBe(true);
    expect(db.loads).toBe(1);
    await db.write("INSERT INTO items (id, name) VALUES (3, 'three')");
    const after = await db.read(q, [0]);
    expect(after.hit).toBe(false);
    expect(names(after)).toEqual(['one', 'two', 'three']);
    await db.write('DELETE FROM items WHERE id = 3');
    expect(names(await db.read(q, [0]))).toEqual(['one', 'two']);
    await cache.close();
  });

  it('round-trips PostgreSQL types through the cache (timestamptz, int8, bytea, null)', async () => {
    const cache = createQueryCache({ enableCompression: true, compressionThreshold: 16 });
    const db = facade(cache, pool, schema);
    const q = 'SELECT id, name, at, big, blob FROM items ORDER BY id';
    const miss = await db.read(q);
    const hit = await db.read(q);
    expect(hit.hit).toBe(true);
    const rows = (hit.value as pg.QueryResult).rows;
    expect(rows).toEqual((miss.value as pg.QueryResult).rows);
    expect(rows[0].at).toBeInstanceOf(Date);
    expect(rows[0].at.toISOString()).toBe('2024-01-02T03:04:05.000Z');
    expect(rows[0].big).toBe('9007199254740993');
    expect(Buffer.isBuffer(rows[0].blob) && [...rows[0].blob]).toEqual([0, 255]);
    expect(rows[1].at).toBeNull();
    expect((hit.value as pg.QueryResult).fields.map((f) => f.name)).toEqual(['id', 'name', 'at', 'big', 'blob']);
    await cache.close();
  });

  it('a transaction that rolls back invalidates nothing and the reread is correct', async () => {
    const cache = createQueryCache();
    const db = facade(cache, pool, schema);
    const invalidations: unknown[] = [];
    cache.on('cacheInvalidated', (e) => invalidations.push(e));
    const q = 'SELECT name FROM items ORDER BY id';
    await db.read(q);
    await expect(
      db.transaction(async (tx) => {
        await tx.query("UPDATE items SET name = 'changed' WHERE id = 1");
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(invalidations).toEqual([]);
    const again = await db.read(q);
    expect(again.hit).toBe(true);
    expect(names(again)).toEqual(['one', 'two']);
    // the truth in the database agrees with the cached answer
    expect((await pool.query(`SELECT name FROM "${schema}".items ORDER BY id`)).rows.map((r) => r.name)).toEqual([
      'one',
      'two',
    ]);
    await cache.close();
  });

  it('a committed transaction invalidates after COMMIT', async () => {
    const cache = createQueryCache();
    const db = facade(cache, pool, schema);
    const q = 'SELECT name FROM items WHERE id = 2';
    expect(names(await db.read(q))).toEqual(['two']);
    await db.transaction(async (tx) => {
      await tx.query("UPDATE items SET name = 'TWO' WHERE id = 2");
    });
    expect(names(await db.read(q))).toEqual(['TWO']);
    await db.write("UPDATE items SET name = 'two' WHERE id = 2");
    expect(names(await db.read(q))).toEqual(['two']);
    await cache.close();
  });

  it('drops a fill whose read raced with a committed write (no set-after-invalidate staleness)', async () => {
    const cache = createQueryCache();
    const db = facade(cache, pool, schema);
    const q = "SELECT name, pg_sleep(0.3)::text AS z FROM items WHERE id = 1 AND name <> 'x'";
    const slow = db.read(q); // reads 'one' at its snapshot, returns after the write
    await until(async () => {
      const r = await pool.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%pg_sleep(0.3)%' AND pid <> pg_backend_pid()",
      );
      return r.rowCount === 1;
    });
    await db.write("UPDATE items SET name = 'uno' WHERE id = 1");
    expect(names(await slow)).toEqual(['one']);
    const reread = await db.read(q);
    expect(reread.hit).toBe(false);
    expect(names(reread)).toEqual(['uno']);
    expect(cache.stats().droppedFills).toBe(1);
    await db.write("UPDATE items SET name = 'one' WHERE id = 1");
    await cache.close();
  });

  it('runs one query for 200 concurrent misses of one key', async () => {
    const cache = createQueryCache();
    const db = facade(cache, pool, schema);
    const all = await Promise.all(Array.from({ length: 200 }, () => db.read('SELECT count(*)::int AS n FROM items')));
    expect(db.loads).toBe(1);
    expect(new Set(all.map((r) => JSON.stringify((r.value as pg.QueryResult).rows))).size).toBe(1);
    await cache.close();
  });

  it('invalidateCache({ schema }) and caller tags drop the right entries', async () => {
    const cache = createQueryCache();
    const db = facade(cache, pool, schema);
    await db.read('SELECT 1 AS one FROM items LIMIT 1', [], ['catalog']);
    await db.read('SELECT 2 AS two');
    expect(await cache.invalidate({ tags: ['catalog'] })).toBe(1);
    expect((await db.read('SELECT 2 AS two')).hit).toBe(true);
    expect(await cache.invalidate({ schema })).toBe(1);
    expect((await db.read('SELECT 2 AS two')).hit).toBe(false);
    await cache.close();
  });
});
