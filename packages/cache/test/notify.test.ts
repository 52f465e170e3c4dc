import { quoteIdent } from '@pg-multiverse/core';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BusInvalidation,
  createNotifyBus,
  createQueryCache,
  type NotifyClientLike,
  type QueryCache,
  type QueryCacheEvents,
} from '../src/index.js';
import { dropSchema, makeSchema, newPool, primaryConn, until } from './helpers.js';

// Two application instances, each with its own memory store, broadcasting
// invalidations with LISTEN/NOTIFY on the users_cluster primary.

let pool: pg.Pool;
let schema: string;
beforeAll(async () => {
  pool = newPool();
  schema = await makeSchema(pool, 'cache_ntf');
});
afterAll(async () => {
  await dropSchema(pool, schema);
  await pool.end();
});

const rows = (r: { value: unknown }) => (r.value as pg.QueryResult).rows;

async function instance(channel: string): Promise<QueryCache> {
  const cache = createQueryCache();
  await cache.attachNotify([{ connect: primaryConn, channel, clusterId: 'users_cluster', reconnectDelayMs: 20 }]);
  return cache;
}

// The cache's own API only (wrap / invalidate / invalidateWrites): how PgMultiverse drives it
// is tested through PgMultiverse itself, in packages/pg-multiverse/test/cache.test.ts.
describe('memory stores in two instances', () => {
  it('explicit invalidations by key and schema, and large tag lists, reach the other instance', async () => {
    const channel = uniqueName('ch');
    const cacheA = await instance(channel);
    const cacheB = await instance(channel);
    let loads = 0;
    const value = async () => ++loads;
    const tagged = cacheB.tagsFor({ schema, sql: 'SELECT 1 AS x', tags: ['t1'] });
    const plain = cacheB.tagsFor({ schema, sql: 'SELECT 2 AS x' });
    await cacheB.wrap('k1', { tags: tagged }, value);
    await cacheB.wrap('k2', { tags: plain }, value);
    expect((await cacheB.wrap('k2', { tags: plain }, value)).hit).toBe(true);
    const seen: QueryCacheEvents['cacheInvalidated'][] = [];
    cacheB.on('cacheInvalidated', (e) => seen.push(e));
    const many = Array.from({ length: 1500 }, (_, i) => `bulk-tag-${i}-${'x'.repeat(20)}`);
    await cacheA.invalidate({ tags: [...many, 't1'] });
    await until(async () => seen.some((e) => e.tags.includes('t1')));
    expect(seen.length).toBeGreaterThan(1); // chunked under the 8000-byte NOTIFY limit
    expect(seen.flatMap((e) => e.tags).length).toBe(many.length + 1);
    expect((await cacheB.wrap('k1', { tags: tagged }, value)).hit).toBe(false);
    await cacheA.invalidate({ schema });
    await until(async () => !(await cacheB.wrap('k2', { tags: plain }, value)).hit && true);
    await cacheA.invalidate({ keys: ['k2'] });
    await until(async () => !(await cacheB.wrap('k2', { tags: plain }, value)).hit && true);
    await cacheA.close();
    await cacheB.close();
  });

  it('a reconnect gap on the listener clears the local cache, then notifications flow again', async () => {
    const channel = uniqueName('ch');
    const appName = uniqueName('listener');
    const cacheA = await instance(channel);
    const cacheB = createQueryCache();
    const bus = createNotifyBus({
      connect: () => ({ ...primaryConn(), application_name: appName }),
      channel,
      reconnectDelayMs: 20,
    });
    await cacheB.attachNotify([bus]);
    const q = `SELECT name FROM ${quoteIdent(schema)}.items WHERE id = 1`;
    const tags = cacheB.tagsFor({ schema, sql: q });
    const read = () => cacheB.wrap('q', { tags }, () => pool.query(q));
    await read();
    expect((await read()).hit).toBe(true);
    const gaps: unknown[] = [];
    cacheB.on('cacheInvalidated', (e) => e.source === 'gap' && gaps.push(e));
    const killed = await pool.query(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      [appName],
    );
    expect(killed.rowCount).toBe(1);
    await until(async () => gaps.length >= 1);
    await until(async () => bus.connected);
    const after = await read();
    expect(after.hit).toBe(false);
    expect((await read()).hit).toBe(true);
    // the new listener receives invalidations: a write committed elsewhere, announced by instance A
    const update = `UPDATE ${quoteIdent(schema)}.items SET name = $1 WHERE id = 1`;
    await pool.query(update, ['un']);
    await cacheA.invalidateWrites([{ schema, sql: update, clusterId: 'users_cluster' }]);
    await until(async () => !(await read()).hit && true);
    expect(rows(await read())).toEqual([{ name: 'un' }]);
    await pool.query(update, ['one']);
    await cacheA.close();
    await cacheB.close();
  });

  it('publishes many invalidations at once one query at a time: all arrive, and pg has nothing to warn about', async () => {
    const channel = uniqueName('ch');
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    // A real pg.Client, counting the queries it has in flight: pg warns about overlapping ones
    // only once per process, the count sees every one.
    let inFlight = 0;
    let maxInFlight = 0;
    const counted = (): NotifyClientLike => {
      const real = new pg.Client(primaryConn());
      return {
        connect: () => real.connect(),
        async query(text, values) {
          inFlight++;
          maxInFlight = Math.max(maxInFlight, inFlight);
          try {
            return await real.query(text, values);
          } finally {
            inFlight--;
          }
        },
        end: () => real.end(),
        on: (event: string, listener: (...args: never[]) => void) => real.on(event as 'end', listener),
        removeAllListeners: (event?: string) => real.removeAllListeners(event),
      };
    };
    const publisher = createNotifyBus({ connect: counted, channel, reconnectDelayMs: 20 });
    const subscriber = createNotifyBus({ connect: primaryConn, channel, reconnectDelayMs: 20 });
    const received = new Set<string>();
    const gaps: BusInvalidation[] = [];
    subscriber.subscribe((inv) => {
      if (inv.gap) gaps.push(inv);
      for (const k of inv.keys ?? []) received.add(k);
    });
    try {
      await subscriber.start();
      await publisher.start();
      expect(publisher.connected && subscriber.connected).toBe(true);
      const n = 400;
      // Some big enough to be chunked into several NOTIFYs, all started in the same tick.
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          publisher.publish({
            keys: [`k${i}`],
            ...(i % 50 === 0 ? { tags: Array.from({ length: 400 }, (_, j) => `tag-${i}-${j}-${'x'.repeat(20)}`) } : {}),
          }),
        ),
      );
      await until(async () => received.size === n);
      expect(maxInFlight).toBe(1);
      expect(publisher.connected).toBe(true);
      expect(gaps).toEqual([]);
      // Warnings are emitted on the next tick: wait for one tick past the last publish.
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => /already executing a query/.test(w))).toEqual([]);
    } finally {
      process.off('warning', onWarning);
      await publisher.close();
      await subscriber.close();
    }
  });
});
