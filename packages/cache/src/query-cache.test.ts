import type { CacheEntry, CacheStore } from '@pg-multiverse/core';
import { describe, expect, it, vi } from 'vitest';
import { encodeValue } from './codec.js';
import type { QueryCacheEvents } from './events.js';
import type { BusInvalidation, NotifyBus } from './notify-bus.js';
import { createQueryCache } from './query-cache.js';

const result = (rows: unknown[]) => ({ command: 'SELECT', rowCount: rows.length, rows, fields: [] });
type R = ReturnType<typeof result>;

function deferred<T>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const collect = <E extends keyof QueryCacheEvents>(cache: ReturnType<typeof createQueryCache>, e: E) => {
  const out: QueryCacheEvents[E][] = [];
  cache.on(e, (p) => out.push(p));
  return out;
};

describe('createQueryCache', () => {
  it('caches: miss runs the loader, hit returns an equal copy without it', async () => {
    const cache = createQueryCache();
    let calls = 0;
    const loader = async () => {
      calls++;
      return result([{ id: 1, at: new Date(5) }]);
    };
    const a = await cache.wrap('k', { tags: ['t'] }, loader);
    const b = await cache.wrap('k', { tags: ['t'] }, loader);
    expect(calls).toBe(1);
    expect(a).toMatchObject({ hit: false, stale: false });
    expect(b).toMatchObject({ hit: true, stale: false });
    expect(b.value).toEqual(a.value);
    (b.value as R).rows.push({ mutated: true });
    const c = await cache.wrap('k', { tags: ['t'] }, loader);
    expect((c.value as R).rows).toHaveLength(1);
    // hot hits hand out private copies too
    ((c.value as R).rows[0] as { at: Date }).at.setTime(0);
    (c.value as R).rows.pop();
    const d = await cache.wrap('k', { tags: ['t'] }, loader);
    expect(d.hit).toBe(true);
    expect((d.value as R).rows).toEqual([{ id: 1, at: new Date(5) }]);
  });

  it('runs one loader for concurrent misses of one key and emits one event per lookup', async () => {
    const cache = createQueryCache();
    const misses = collect(cache, 'cacheMiss');
    const hits = collect(cache, 'cacheHit');
    const gate = deferred<void>();
    let calls = 0;
    const loader = async () => {
      calls++;
      await gate.promise;
      return result([{ id: 7 }]);
    };
    const all = Array.from({ length: 100 }, () => cache.wrap('same', { schema: 's', tags: ['t'] }, loader));
    await new Promise((r) => setImmediate(r));
    gate.resolve();
    const out = await Promise.all(all);
    expect(calls).toBe(1);
    expect(out.every((o) => ((o.value as R).rows[0] as { id: number }).id === 7)).toBe(true);
    expect(misses).toHaveLength(100);
    expect(misses.filter((m) => !m.shared)).toHaveLength(1);
    expect(hits).toHaveLength(0);
    expect(misses[0]).toMatchObject({ key: 'same', schema: 's', tags: ['t'] });
  });

  it('does not cache a failed load and lets every waiter see the error', async () => {
    const cache = createQueryCache();
    const boom = new Error('boom');
    const p1 = cache.wrap('k', {}, async () => {
      await new Promise((r) => setImmediate(r));
      throw boom;
    });
    const p2 = cache.wrap('k', {}, async () => result([]));
    await expect(p1).rejects.toBe(boom);
    await expect(p2).rejects.toBe(boom);
    const again = await cache.wrap('k', {}, async () => result([{ ok: 1 }]));
    expect(again.hit).toBe(false);
    expect((again.value as R).rows).toEqual([{ ok: 1 }]);
  });

  it('drops a fill that raced with an invalidation of its tag, and new lookups do not join it', async () => {
    const cache = createQueryCache();
    const dropped = collect(cache, 'cacheFillDropped');
    const gate = deferred<void>();
    const slow = cache.wrap('k', { tags: ['table:s.t'] }, async () => {
      await gate.promise;
      return result([{ v: 'old' }]);
    });
    await new Promise((r) => setImmediate(r));
    await cache.invalidate({ tags: ['table:s.t'] });
    // a lookup after the invalidation must not get the old load's value
    const fresh = await cache.wrap('k', { tags: ['table:s.t'] }, async () => result([{ v: 'new' }]));
    expect((fresh.value as R).rows).toEqual([{ v: 'new' }]);
    gate.resolve();
    expect(((await slow).value as R).rows).toEqual([{ v: 'old' }]);
    expect(dropped).toHaveLength(1);
    const after = await cache.wrap('k', { tags: ['table:s.t'] }, async () => result([{ v: 'loader' }]));
    expect(after.hit).toBe(true);
    expect((after.value as R).rows).toEqual([{ v: 'new' }]);
    expect(cache.stats().droppedFills).toBe(1);
  });

  it('drops a racing fill with a plain CacheStore that has no snapshot support', async () => {
    const map = new Map<string, CacheEntry>();
    const plain: CacheStore = {
      async get(k) {
        return map.get(k);
      },
      async set(k, e) {
        map.set(k, e);
      },
      async invalidate(c) {
        let n = 0;
        for (const k of c.keys ?? []) if (map.delete(k)) n++;
        return n;
      },
    };
    const cache = createQueryCache({ store: plain });
    const gate = deferred<void>();
    const slow = cache.wrap('k', {}, async () => {
      await gate.promise;
      return result([1]);
    });
    await new Promise((r) => setImmediate(r));
    await cache.invalidate({ keys: ['k'] });
    gate.resolve();
    await slow;
    expect(map.has('k')).toBe(false);
  });

  it('works with a store that has none of the optional members (the documented defaults)', async () => {
    // Returns the SAME object and changes it in place on overwrite: allowed without `stableEntries`,
    // so the cache must decode every hit instead of keeping decoded copies keyed by the object.
    const map = new Map<string, { entry: CacheEntry; tags: readonly string[] }>();
    const calls: string[] = [];
    const plain: CacheStore = {
      async get(k, ...rest) {
        calls.push(`get:${rest.length}`);
        return map.get(k)?.entry;
      },
      async set(k, e, o) {
        calls.push('set');
        const slot = map.get(k);
        if (slot) Object.assign(slot.entry, e);
        else map.set(k, { entry: { ...e }, tags: o.tags });
      },
      async invalidate(c) {
        let n = 0;
        for (const [k, v] of map)
          if (c.keys?.includes(k) || v.tags.some((t) => c.tags?.includes(t))) n += map.delete(k) ? 1 : 0;
        return n;
      },
    };
    const cache = createQueryCache({ store: plain });
    const T = ['table:s.t'];
    const evicted = collect(cache, 'cacheEvicted');
    let n = 0;
    const loader = async () => result([++n]);
    expect((await cache.wrap('k', { tags: T }, loader)).hit).toBe(false);
    const hit = await cache.wrap('k', { tags: T }, loader);
    expect(hit).toMatchObject({ hit: true, value: { rows: [1] } });
    (hit.value as R).rows.push(99); // a private copy
    expect(((await cache.wrap('k', { tags: T }, loader)).value as R).rows).toEqual([1]);
    // replaced in place behind the cache's back: the next hit shows the new value
    const replaced = { ...map.get('k')!.entry, value: encodeValue(result([7])).bytes };
    await plain.set('k', replaced, { ttlMs: 60_000, tags: T });
    expect(((await cache.wrap('k', { tags: T }, loader)).value as R).rows).toEqual([7]);
    await cache.invalidateWrites([{ schema: 's', sql: 'DELETE FROM t' }]);
    expect(((await cache.wrap('k', { tags: ['table:s.t'] }, loader)).value as R).rows).toEqual([2]);
    await cache.clear(); // no store.clear: nothing to call, no error
    expect(cache.stats()).toMatchObject({ itemCount: 0, bytes: 0, evictions: 0, errors: 0 });
    expect(evicted).toEqual([]);
    // the lookup hint is passed (a store may ignore it)
    expect(calls.filter((c) => c.startsWith('get')).every((c) => c === 'get:1')).toBe(true);
  });

  it('invalidates by schema, tags and keys', async () => {
    const cache = createQueryCache();
    const load = (v: number) => async () => result([v]);
    await cache.wrap('a', { tags: cache.tagsFor({ schema: 'users', sql: 'SELECT * FROM accounts' }) }, load(1));
    await cache.wrap('b', { tags: cache.tagsFor({ schema: 'orders', sql: 'SELECT * FROM items' }) }, load(2));
    await cache.wrap('c', { tags: ['catalog'] }, load(3));
    await cache.wrap('d', { tags: [] }, load(4));
    expect(await cache.invalidate({ schema: 'users' })).toBe(1);
    expect(await cache.invalidate({ tags: ['catalog'] })).toBe(1);
    expect(await cache.invalidate({ keys: ['d'] })).toBe(1);
    const hits = await Promise.all(['a', 'b', 'c', 'd'].map((k) => cache.wrap(k, {}, load(0)).then((r) => r.hit)));
    expect(hits).toEqual([false, true, false, false]);
  });

  it('invalidates the tables a committed write touches, not the others', async () => {
    const cache = createQueryCache();
    const read = (sql: string) =>
      cache.wrap(cache.keyFor({ schema: 'users', sql }), { tags: cache.tagsFor({ schema: 'users', sql }) }, async () =>
        result([sql]),
      );
    await read('SELECT * FROM accounts');
    await read('SELECT * FROM profiles');
    await read('SELECT * FROM users.accounts a JOIN profiles p ON true');
    await cache.invalidateWrites([{ schema: 'users', sql: "UPDATE accounts SET name = 'x'" }]);
    expect((await read('SELECT * FROM accounts')).hit).toBe(false);
    expect((await read('SELECT * FROM profiles')).hit).toBe(true);
    expect((await read('SELECT * FROM users.accounts a JOIN profiles p ON true')).hit).toBe(false);
  });

  it('invalidates the whole schema when a write names no table', async () => {
    const cache = createQueryCache();
    const sql = 'SELECT * FROM accounts';
    await cache.wrap('a', { tags: cache.tagsFor({ schema: 'users', sql }) }, async () => result([1]));
    await cache.invalidateWrites([{ schema: 'users', sql: 'SELECT refresh_everything()' }]);
    expect((await cache.wrap('a', {}, async () => result([2]))).hit).toBe(false);
  });

  // Expiry reads the wall clock (Date.now): these tests move a fake Date instead of sleeping,
  // so a busy machine cannot let a fresh entry go stale between two steps.
  it('serves stale within swrMs while one refresh runs', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const cache = createQueryCache({ swrMs: 60_000 });
      const stale = collect(cache, 'cacheStale');
      let n = 0;
      const loader = async () => result([++n]);
      await cache.wrap('k', { ttlMs: 20 }, loader);
      vi.advanceTimersByTime(40);
      const s = await cache.wrap('k', { ttlMs: 20 }, loader);
      expect(s).toMatchObject({ hit: true, stale: true });
      expect((s.value as R).rows).toEqual([1]);
      expect(stale).toHaveLength(1);
      // the refresh stores the new value (the clock stands still, so it stays fresh)
      await vi.waitFor(async () => expect(((await cache.wrap('k', {}, loader)).value as R).rows).toEqual([2]), {
        timeout: 60_000,
      });
      expect(n).toBe(2);
      expect(cache.stats().staleHits).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it('treats an expired entry as a miss without swrMs', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const cache = createQueryCache();
      let n = 0;
      await cache.wrap('k', { ttlMs: 10 }, async () => result([++n]));
      vi.advanceTimersByTime(30);
      const r = await cache.wrap('k', { ttlMs: 10 }, async () => result([++n]));
      expect(r.hit).toBe(false);
      expect((r.value as R).rows).toEqual([2]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('compresses large entries and stays correct', async () => {
    const big = result(Array.from({ length: 500 }, (_, i) => ({ id: i, name: `name-${i}`, mail: `m${i}@x.org` })));
    const plain = createQueryCache();
    const z = createQueryCache({ enableCompression: true, compressionThreshold: 1024 });
    const sets = collect(z, 'cacheSet');
    await plain.wrap('k', {}, async () => big);
    await z.wrap('k', {}, async () => big);
    expect(sets[0]?.compressed).toBe(true);
    expect(z.stats().bytes).toBeLessThan(plain.stats().bytes / 3);
    expect((await z.wrap('k', {}, async () => result([]))).value).toEqual(big);
  });

  it('keeps stats: hits, misses, hit rate, per-tag counts, items, bytes', async () => {
    const cache = createQueryCache();
    await cache.wrap('a', { tags: ['x', 'y'] }, async () => result([1]));
    await cache.wrap('a', { tags: ['x', 'y'] }, async () => result([1]));
    await cache.wrap('a', { tags: ['x', 'y'] }, async () => result([1]));
    await cache.invalidate({ tags: ['y'] });
    const s = cache.stats();
    expect(s).toMatchObject({ hits: 2, misses: 1, sets: 1, invalidations: 1, itemCount: 0 });
    expect(s.hitRate).toBeCloseTo(2 / 3);
    expect(s.perTag.x).toEqual({ hits: 2, misses: 1, invalidations: 0 });
    expect(s.perTag.y).toEqual({ hits: 2, misses: 1, invalidations: 1 });
    await cache.wrap('b', {}, async () => result([1]));
    expect(cache.stats().itemCount).toBe(1);
    expect(cache.stats().bytes).toBeGreaterThan(0);
  });

  it('reports evictions of the default store', async () => {
    const cache = createQueryCache({ maxSize: 2 });
    const ev = collect(cache, 'cacheEvicted');
    for (const k of ['a', 'b', 'c']) await cache.wrap(k, {}, async () => result([k]));
    expect(ev.map((e) => e.key)).toEqual(['a']);
    expect(cache.stats().evictions).toBe(1);
  });

  it('reports store errors as cacheError and still answers from the loader', async () => {
    const broken: CacheStore = {
      get: async () => {
        throw new Error('store down');
      },
      set: async () => {
        throw new Error('store down');
      },
      invalidate: async () => 0,
    };
    const cache = createQueryCache({ store: broken });
    const errors = collect(cache, 'cacheError');
    const r = await cache.wrap('k', {}, async () => result([1]));
    expect((r.value as R).rows).toEqual([1]);
    expect(errors.map((e) => [e.operation, e.error.code])).toEqual([
      ['get', 'CACHE_ERROR'],
      ['set', 'CACHE_ERROR'],
    ]);
  });

  it('bypasses the cache while a notify bus is down and applies remote invalidations', async () => {
    const cache = createQueryCache();
    let deliver: ((inv: BusInvalidation) => void) | undefined;
    const published: unknown[] = [];
    const bus = {
      instanceId: 'me',
      channel: 'c',
      clusterId: 'c1',
      connected: true as boolean,
      start: async () => {},
      publish: async (m: unknown) => void published.push(m),
      subscribe: (l: (inv: BusInvalidation) => void) => {
        deliver = l;
        return () => {};
      },
      on: () => undefined,
      close: async () => {},
    } satisfies NotifyBus;
    await cache.attachNotify([bus]);
    const inv = collect(cache, 'cacheInvalidated');
    await cache.wrap('k', { tags: ['t'] }, async () => result([1]));
    expect((await cache.wrap('k', { tags: ['t'] }, async () => result([2]))).hit).toBe(true);
    deliver!({ tags: ['t'] });
    await new Promise((r) => setImmediate(r));
    expect(inv.at(-1)).toMatchObject({ source: 'remote', tags: ['t'] });
    expect((await cache.wrap('k', { tags: ['t'] }, async () => result([3]))).hit).toBe(false);
    await cache.invalidate({ keys: ['k'] });
    expect(published).toEqual([{ tags: [], keys: ['k'] }]);
    bus.connected = false;
    let calls = 0;
    for (let i = 0; i < 2; i++) await cache.wrap('z', {}, async () => result([++calls]));
    expect(calls).toBe(2);
  });

  it('publishes the tags of each committed write on the bus of the cluster it was written on', async () => {
    const cache = createQueryCache();
    const published: [string, unknown][] = [];
    const busOf = (clusterId: string) =>
      ({
        instanceId: 'me',
        channel: 'c',
        clusterId,
        connected: true as boolean,
        start: async () => {},
        publish: async (m: unknown) => void published.push([clusterId, m]),
        subscribe: () => () => {},
        on: () => undefined,
        close: async () => {},
      }) satisfies NotifyBus;
    const a = busOf('a');
    const b = busOf('b');
    await cache.attachNotify([a, b]);
    await cache.invalidateWrites([
      { schema: 'sa', sql: 'UPDATE t SET x = 1', clusterId: 'a' },
      { schema: 'sb', sql: 'DELETE FROM u', clusterId: 'b' },
      { schema: 'sb', sql: 'INSERT INTO v VALUES (1)', clusterId: 'b' },
    ]);
    expect(published.sort()).toEqual([
      ['a', { tags: ['table:sa.t'] }],
      ['b', { tags: ['table:sb.u', 'table:sb.v'] }],
    ]);
    // no cluster given, or its bus down: any connected bus carries it
    published.length = 0;
    b.connected = false;
    await cache.invalidateWrites([{ schema: 'sb', sql: 'DELETE FROM u', clusterId: 'b' }]);
    await cache.invalidateWrites([{ schema: 'sb', sql: 'DELETE FROM w' }]);
    expect(published).toEqual([
      ['a', { tags: ['table:sb.u'] }],
      ['a', { tags: ['table:sb.w'] }],
    ]);
    await cache.close();
  });

  it('never serves a hot decoded copy after invalidation or replacement', async () => {
    const cache = createQueryCache();
    let n = 0;
    const loader = async () => result([++n]);
    await cache.wrap('k', { tags: ['t'] }, loader);
    await cache.wrap('k', { tags: ['t'] }, loader); // decoded copy kept
    await cache.invalidate({ tags: ['t'] });
    const r = await cache.wrap('k', { tags: ['t'] }, loader);
    expect(r.hit).toBe(false);
    expect((r.value as R).rows).toEqual([2]);
    expect(((await cache.wrap('k', { tags: ['t'] }, loader)).value as R).rows).toEqual([2]);
    await cache.clear();
    expect(((await cache.wrap('k', { tags: ['t'] }, loader)).value as R).rows).toEqual([3]);
  });

  it('runs loaders uncached after close', async () => {
    const cache = createQueryCache();
    await cache.wrap('k', {}, async () => result([1]));
    await cache.close();
    const r = await cache.wrap('k', {}, async () => result([2]));
    expect(r).toMatchObject({ hit: false });
    expect((r.value as R).rows).toEqual([2]);
  });

  it('validates options and arguments', async () => {
    // Options go through core's validation: one INVALID_CONFIG issue per problem, unknown keys included.
    expect(() => createQueryCache({ ttl: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_CONFIG' }));
    expect(() => createQueryCache({ ttl: 1, maxSise: 3 } as never)).toThrow(/maxSise.*did you mean "maxSize"/);
    const cache = createQueryCache();
    await expect(cache.invalidate(null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
