import { testCacheStore } from '@pg-multiverse/cache/testing';
import { uniqueName } from '@pg-multiverse/testkit';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createQueryCache, createRedisStore } from '../src/index.js';
import { ctx } from './helpers.js';

// The shared redis-server started by the testkit; every test uses its own prefix.

testCacheStore(() => createRedisStore({ url: ctx.redisUrl, prefix: uniqueName('conf') }), { name: 'redis' });

// Two instances sharing one store through PgMultiverse: packages/pg-multiverse/test/cache.test.ts.

let admin: Redis;
beforeAll(() => {
  admin = new Redis(ctx.redisUrl);
});
afterAll(() => {
  admin.disconnect();
});

async function keysOf(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await admin.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...found);
  } while (cursor !== '0');
  return out;
}

const entry = (s: string) => ({ value: Buffer.from(s), storedAt: Date.now(), expiresAt: Date.now() + 60_000 });

describe('createRedisStore', () => {
  it('gives every key a TTL and one hash tag', async () => {
    const prefix = uniqueName('ttl');
    const s = createRedisStore({ url: ctx.redisUrl, prefix });
    await s.set('a', entry('1'), { ttlMs: 60_000, tags: ['t1', 't2'] });
    // (TTLs long enough that nothing expires before it is looked at, however busy the machine)
    await s.set('b', entry('2'), { ttlMs: 30_000, tags: ['t2'], graceMs: 500 });
    await s.invalidate({ tags: ['t1', 'never-used'] });
    await s.invalidate({ keys: ['b', 'never-set'] });
    const keys = await keysOf(prefix);
    expect(keys.length).toBeGreaterThanOrEqual(4);
    for (const k of keys) {
      expect(k.startsWith(`{${prefix}}:`)).toBe(true);
      const ttl = await admin.pttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(60_000);
    }
    await s.close();
  });

  it('clear() removes only its own prefix', async () => {
    const a = createRedisStore({ url: ctx.redisUrl, prefix: uniqueName('clr') });
    const bPrefix = uniqueName('keep');
    const b = createRedisStore({ url: ctx.redisUrl, prefix: bPrefix });
    const foreign = uniqueName('foreign');
    await admin.set(foreign, 'x', 'EX', 60);
    for (let i = 0; i < 1200; i++) await a.set(`k${i}`, entry('v'), { ttlMs: 60_000, tags: [`t${i % 7}`] });
    await b.set('k1', entry('b'), { ttlMs: 60_000, tags: ['t1'] });
    await a.clear();
    expect(await a.get('k5')).toBeUndefined();
    expect((await b.get('k1'))?.value.toString()).toBe('b');
    expect(await admin.get(foreign)).toBe('x');
    await admin.del(foreign);
    await a.close();
    await b.clear();
    expect(await keysOf(bPrefix)).toEqual([]);
    await b.close();
  });

  it('two stores on one Redis see each other’s entries and invalidations, and a racing fill is dropped', async () => {
    const prefix = uniqueName('two');
    const a = createRedisStore({ url: ctx.redisUrl, prefix });
    const b = createRedisStore({ url: ctx.redisUrl, prefix });
    await a.set('k', entry('from a'), { ttlMs: 60_000, tags: ['table:s.t'] });
    expect((await b.get('k'))?.value.toString()).toBe('from a');
    await b.invalidate({ tags: ['table:s.t'] });
    expect(await a.get('k')).toBeUndefined();
    // instance a starts loading; instance b invalidates; a's fill must not land
    const token = await a.snapshot!('k', ['table:s.t'], 60_000);
    await b.invalidate({ tags: ['table:s.t'] });
    let dropped = false;
    await a.set('k', entry('stale'), {
      ttlMs: 60_000,
      tags: ['table:s.t'],
      snapshot: token,
      onDropped: () => (dropped = true),
    });
    expect(dropped).toBe(true);
    expect(await b.get('k')).toBeUndefined();
    await a.close();
    await b.close();
  });

  it('works with a caller-owned ioredis client and leaves it open', async () => {
    const client = new Redis(ctx.redisUrl);
    const s = createRedisStore({ redis: client, prefix: uniqueName('own') });
    await s.set('k', entry('v'), { ttlMs: 60_000, tags: [] });
    expect((await s.get('k'))?.value.toString()).toBe('v');
    await s.clear();
    await s.close();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('an unreachable Redis turns into cacheError events, and the query is still answered', async () => {
    const { freePort } = await import('@pg-multiverse/testkit');
    const port = await freePort();
    const store = createRedisStore({
      url: `redis://127.0.0.1:${port}`,
      prefix: uniqueName('down'),
      commandTimeoutMs: 500,
    });
    const cache = createQueryCache({ store });
    const errors: string[] = [];
    cache.on('cacheError', (e) => errors.push(`${e.operation}:${e.error.code}`));
    const r = await cache.wrap('k', { tags: ['t'] }, async () => ({
      rows: [{ ok: 1 }],
      command: 'SELECT',
      rowCount: 1,
      fields: [],
    }));
    expect(r).toMatchObject({ hit: false, value: { rows: [{ ok: 1 }] } });
    expect(errors).toContain('get:CACHE_ERROR');
    await expect(cache.invalidate({ tags: ['t'] })).rejects.toMatchObject({ code: 'CACHE_ERROR' });
    await store.close();
    await cache.close();
  });

  it('rejects bad options', () => {
    expect(() => createRedisStore({} as never)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => createRedisStore({ url: ctx.redisUrl, prefix: 'a{b' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARGUMENT' }),
    );
  });
});
