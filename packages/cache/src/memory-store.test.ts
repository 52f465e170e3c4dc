import { describe, expect, it } from 'vitest';
import { createMemoryStore } from './memory-store.js';
import { testCacheStore } from './testing.js';

testCacheStore(() => createMemoryStore({ maxSize: 1000 }), {
  name: 'memory',
  bounded: { factory: () => createMemoryStore({ maxSize: 10 }), capacity: 10 },
});

const entry = (n: number) => ({ value: Buffer.alloc(n), storedAt: Date.now(), expiresAt: Date.now() + 60_000 });

describe('createMemoryStore', () => {
  it('is bounded by entry count and reports evictions', async () => {
    const s = createMemoryStore({ maxSize: 3 });
    const evicted: string[] = [];
    s.onEvict?.((k) => evicted.push(k));
    for (const k of ['a', 'b', 'c', 'd']) await s.set(k, entry(10), { ttlMs: 60_000, tags: ['t'] });
    expect(s.stats().itemCount).toBe(3);
    expect(evicted).toEqual(['a']);
    expect(await s.get('a')).toBeUndefined();
    // the tag index forgot the evicted key: invalidating the tag counts only live entries
    expect(await s.invalidate({ tags: ['t'] })).toBe(3);
  });

  it('is bounded by bytes', async () => {
    const s = createMemoryStore({ maxSize: 1000, maxBytes: 10_000 });
    for (let i = 0; i < 20; i++) await s.set(`k${i}`, entry(1000), { ttlMs: 60_000, tags: [] });
    expect(s.stats().bytes).toBeLessThanOrEqual(10_000);
    expect(s.stats().itemCount).toBeLessThan(20);
    expect(await s.get('k19')).toBeDefined();
    expect(await s.get('k0')).toBeUndefined();
  });

  it('refuses an entry larger than maxBytes without evicting others', async () => {
    const s = createMemoryStore({ maxBytes: 5000 });
    await s.set('small', entry(100), { ttlMs: 60_000, tags: [] });
    await s.set('huge', entry(10_000), { ttlMs: 60_000, tags: [] });
    expect(await s.get('huge')).toBeUndefined();
    expect(await s.get('small')).toBeDefined();
  });

  it('validates options', () => {
    expect(() => createMemoryStore({ maxSize: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => createMemoryStore({ maxBytes: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });

  it('drops a fill when the invalidation log overflowed since its snapshot', async () => {
    const s = createMemoryStore();
    const token = await s.snapshot!('k', ['t'], 60_000);
    for (let i = 0; i < 2000; i++) await s.invalidate({ tags: [`other${i}`] });
    let dropped = false;
    await s.set('k', entry(1), { ttlMs: 60_000, tags: ['t'], snapshot: token, onDropped: () => (dropped = true) });
    expect(dropped).toBe(true);
  });
});
