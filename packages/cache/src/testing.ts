import type { CacheEntry, CacheStore } from '@pg-multiverse/core';
import { afterEach, describe, expect, it } from 'vitest';

export interface TestCacheStoreOptions {
  /** Suite name. Default the store's `name`. */
  name?: string;
  /** Give up waiting for a TTL expiry after this many ms. Default 5000. */
  expiryWaitMs?: number;
  /**
   * A store of the same kind that holds at most `capacity` entries, so the
   * suite can check that `onEvict` reports what it evicts. Without it only
   * what `onEvict` must NOT report is checked.
   */
  bounded?: { factory: () => CacheStore | Promise<CacheStore>; capacity: number };
}

const bytes = (s: string) => Buffer.from(s, 'utf8');
const entry = (s: string | Buffer, ttlMs = 60_000, compressed = false): CacheEntry => {
  const now = Date.now();
  return { value: typeof s === 'string' ? bytes(s) : s, storedAt: now, expiresAt: now + ttlMs, compressed };
};
const text = (e: CacheEntry | undefined) =>
  e === undefined ? undefined : Buffer.from(e.value as Uint8Array).toString('utf8');

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The `CacheStore` conformance suite (vitest). Call it at the top level of a
 * test file with a factory returning a FRESH, empty store each time:
 *
 * ```ts
 * testCacheStore(() => createRedisStore({ url, prefix: `t${Math.random()}` }));
 * ```
 *
 * The optional members are checked when a store has them: `get(key, hint)`
 * answers as without the hint; `stableEntries` stores return the same entry
 * object until it changes, and a new one after; `snapshot` tokens make `set`
 * drop fills that raced with an invalidation or `clear()` (and call
 * `onDropped`), and only those; `onEvict` reports evictions (with the
 * `bounded` option) and nothing else.
 */
export function testCacheStore(
  factory: () => CacheStore | Promise<CacheStore>,
  options: TestCacheStoreOptions = {},
): void {
  const waitMs = options.expiryWaitMs ?? 5000;
  describe(`CacheStore conformance: ${options.name ?? 'store'}`, () => {
    const open: CacheStore[] = [];
    const make = async (from: () => CacheStore | Promise<CacheStore> = factory) => {
      const s = await from();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) {
        await s.clear?.();
        await s.close?.();
      }
    });
    const opts = (tags: string[] = [], ttlMs = 60_000) => ({ ttlMs, tags });

    it('misses an unknown key', async () => {
      const s = await make();
      expect(await s.get('nope')).toBeUndefined();
    });

    it('returns what was set: bytes, timestamps, compressed flag', async () => {
      const s = await make();
      const e = entry('hello', 60_000, true);
      await s.set('k1', e, opts(['a']));
      const got = await s.get('k1');
      expect(text(got)).toBe('hello');
      expect(got?.storedAt).toBe(e.storedAt);
      expect(got?.expiresAt).toBe(e.expiresAt);
      expect(!!got?.compressed).toBe(true);
    });

    it('returns the origin it was set with (where the result was read)', async () => {
      const s = await make();
      const fromReplica = {
        ...entry('r'),
        origin: { role: 'replica' as const, lsn: '0/3000060', lagMs: 12, at: 1_700_000_000_000 },
      };
      const fromPrimary = {
        ...entry('p'),
        origin: { role: 'primary' as const, lsn: '1/A0', lagMs: 0, at: 1_700_000_000_001 },
      };
      await s.set('o1', fromReplica, opts(['a']));
      await s.set('o2', fromPrimary, opts(['a']));
      expect((await s.get('o1'))?.origin).toEqual(fromReplica.origin);
      expect((await s.get('o2'))?.origin).toEqual(fromPrimary.origin);
    });

    it('round-trips every byte value', async () => {
      const s = await make();
      const all = Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256));
      await s.set('bin', entry(all), opts());
      const got = await s.get('bin');
      expect(Buffer.compare(Buffer.from(got!.value as Uint8Array), all)).toBe(0);
    });

    it('overwrites a key', async () => {
      const s = await make();
      await s.set('k', entry('one'), opts(['t']));
      await s.set('k', entry('two'), opts(['t']));
      expect(text(await s.get('k'))).toBe('two');
    });

    it('keeps keys with unusual characters apart', async () => {
      const s = await make();
      const keys = ['a:b', 'a b', '{x}y', 'ünï©ødé', 'a*', 'a?', '[a]', 'A'];
      for (const k of keys) await s.set(k, entry(`v-${k}`), opts([`tag {${k}}`]));
      for (const k of keys) expect(text(await s.get(k))).toBe(`v-${k}`);
      await s.invalidate({ tags: ['tag {a*}'] });
      expect(await s.get('a*')).toBeUndefined();
      expect(text(await s.get('a?'))).toBe('v-a?');
    });

    it('invalidates by key, only that key', async () => {
      const s = await make();
      await s.set('k1', entry('1'), opts(['t']));
      await s.set('k2', entry('2'), opts(['t']));
      await s.invalidate({ keys: ['k1'] });
      expect(await s.get('k1')).toBeUndefined();
      expect(text(await s.get('k2'))).toBe('2');
    });

    it('invalidates by tag: every entry carrying it, nothing else', async () => {
      const s = await make();
      await s.set('a', entry('a'), opts(['table:s.x', 'schema:s']));
      await s.set('b', entry('b'), opts(['table:s.y', 'schema:s']));
      await s.set('c', entry('c'), opts(['table:s.x']));
      await s.set('d', entry('d'), opts([]));
      await s.invalidate({ tags: ['table:s.x'] });
      expect(await s.get('a')).toBeUndefined();
      expect(await s.get('c')).toBeUndefined();
      expect(text(await s.get('b'))).toBe('b');
      expect(text(await s.get('d'))).toBe('d');
      await s.invalidate({ tags: ['nothing', 'schema:s'] });
      expect(await s.get('b')).toBeUndefined();
      expect(text(await s.get('d'))).toBe('d');
    });

    it('serves entries set after an invalidation of their tag', async () => {
      const s = await make();
      await s.set('k', entry('old'), opts(['t']));
      await s.invalidate({ tags: ['t'] });
      await s.set('k', entry('new'), opts(['t']));
      expect(text(await s.get('k'))).toBe('new');
      await s.invalidate({ tags: ['t'] });
      expect(await s.get('k')).toBeUndefined();
    });

    it('drops entries after their TTL', async () => {
      const s = await make();
      await s.set('short', entry('x', 40), opts(['t'], 40));
      await s.set('long', entry('y'), opts(['t']));
      expect(await until(async () => (await s.get('short')) === undefined, waitMs)).toBe(true);
      expect(text(await s.get('long'))).toBe('y');
    });

    it('clear() removes every entry', async () => {
      const s = await make();
      if (!s.clear) return;
      for (let i = 0; i < 50; i++) await s.set(`k${i}`, entry(`${i}`), opts([`t${i % 3}`]));
      await s.clear();
      for (let i = 0; i < 50; i++) expect(await s.get(`k${i}`)).toBeUndefined();
      await s.set('k1', entry('again'), opts(['t1']));
      expect(text(await s.get('k1'))).toBe('again');
    });

    it('handles concurrent sets and gets', async () => {
      const s = await make();
      await Promise.all(Array.from({ length: 100 }, (_, i) => s.set(`c${i}`, entry(`v${i}`), opts([`g${i % 5}`]))));
      const got = await Promise.all(Array.from({ length: 100 }, (_, i) => s.get(`c${i}`)));
      expect(got.map(text)).toEqual(Array.from({ length: 100 }, (_, i) => `v${i}`));
      await s.invalidate({ tags: ['g0'] });
      const after = await Promise.all(Array.from({ length: 100 }, (_, i) => s.get(`c${i}`)));
      expect(after.filter((e) => e === undefined).length).toBe(20);
    });

    it('drops a fill whose tag was invalidated after its snapshot (if snapshot is supported)', async () => {
      const s = await make();
      if (!s.snapshot) return;
      const token = await s.snapshot('k', ['t', 'u'], 60_000);
      await s.invalidate({ tags: ['u'] });
      let dropped = false;
      await s.set('k', entry('stale'), { ...opts(['t', 'u']), snapshot: token, onDropped: () => (dropped = true) });
      expect(dropped).toBe(true);
      expect(await s.get('k')).toBeUndefined();
    });

    it('drops a fill whose key was invalidated after its snapshot (if snapshot is supported)', async () => {
      const s = await make();
      if (!s.snapshot) return;
      const token = await s.snapshot('k', ['t'], 60_000);
      await s.invalidate({ keys: ['k'] });
      await s.set('k', entry('stale'), { ...opts(['t']), snapshot: token });
      expect(await s.get('k')).toBeUndefined();
    });

    it('keeps a fill when only unrelated tags changed (if snapshot is supported)', async () => {
      const s = await make();
      if (!s.snapshot) return;
      const token = await s.snapshot('k', ['t'], 60_000);
      await s.invalidate({ tags: ['other'], keys: ['other-key'] });
      let dropped = false;
      await s.set('k', entry('fresh'), { ...opts(['t']), snapshot: token, onDropped: () => (dropped = true) });
      expect(dropped).toBe(false);
      expect(text(await s.get('k'))).toBe('fresh');
    });

    it('answers get(key, { tags }) as it answers get(key): the hint never changes the result', async () => {
      const s = await make();
      await s.set('h', entry('tagged'), opts(['a', 'b']));
      await s.set('n', entry('untagged'), opts([]));
      const hints = [undefined, {}, { tags: [] }, { tags: ['a', 'b'] }, { tags: ['b', 'a'] }, { tags: ['a'] }];
      for (const hint of [...hints, { tags: ['a', 'b', 'c'] }, { tags: ['c'] }]) {
        expect(text(await s.get('h', hint)), JSON.stringify(hint)).toBe('tagged');
        expect(text(await s.get('n', hint)), JSON.stringify(hint)).toBe('untagged');
        expect(await s.get('missing', hint), JSON.stringify(hint)).toBeUndefined();
      }
      // invalidated through a tag the hint does not name: still gone
      await s.invalidate({ tags: ['b'] });
      for (const hint of [...hints, { tags: ['c'] }])
        expect(await s.get('h', hint), JSON.stringify(hint)).toBeUndefined();
      expect(text(await s.get('n', { tags: ['b'] }))).toBe('untagged');
    });

    it('with stableEntries: the same entry object until it changes, a new one after', async () => {
      const s = await make();
      if (!s.stableEntries) return;
      await s.set('k', entry('one'), opts(['t']));
      const first = await s.get('k');
      expect(await s.get('k')).toBe(first);
      expect(await s.get('k', { tags: ['t'] })).toBe(first);
      await s.set('k', entry('two'), opts(['t']));
      const second = await s.get('k');
      expect(second).not.toBe(first);
      expect(text(second)).toBe('two');
      expect(text(first)).toBe('one'); // the old object was not changed in place
      await s.invalidate({ tags: ['t'] });
      await s.set('k', entry('three'), opts(['t']));
      const third = await s.get('k');
      expect(third).not.toBe(second);
      expect(text(third)).toBe('three');
      await s.invalidate({ keys: ['k'] });
      await s.set('k', entry('four'), opts(['t']));
      expect(await s.get('k')).not.toBe(third);
      if (!s.clear) return;
      const fourth = await s.get('k');
      await s.clear();
      await s.set('k', entry('five'), opts(['t']));
      expect(await s.get('k')).not.toBe(fourth);
    });

    it('keeps a fill whose snapshot was taken after the invalidation (if snapshot is supported)', async () => {
      const s = await make();
      if (!s.snapshot) return;
      await s.set('k', entry('old'), opts(['t']));
      await s.invalidate({ tags: ['t'], keys: ['k'] });
      const token = await s.snapshot('k', ['t'], 60_000);
      let dropped = false;
      await s.set('k', entry('new'), { ...opts(['t']), snapshot: token, onDropped: () => (dropped = true) });
      expect(dropped).toBe(false);
      expect(text(await s.get('k'))).toBe('new');
    });

    it('drops a fill whose snapshot was taken before clear() (if snapshot and clear are supported)', async () => {
      const s = await make();
      if (!s.snapshot || !s.clear) return;
      const token = await s.snapshot('k', ['t'], 60_000);
      await s.clear();
      let dropped = false;
      await s.set('k', entry('stale'), { ...opts(['t']), snapshot: token, onDropped: () => (dropped = true) });
      expect(dropped).toBe(true);
      expect(await s.get('k')).toBeUndefined();
    });

    it('drops only the raced one of two fills with snapshots taken together (if snapshot is supported)', async () => {
      const s = await make();
      if (!s.snapshot) return;
      const [ta, tb] = await Promise.all([s.snapshot('a', ['ta'], 60_000), s.snapshot('b', ['tb'], 60_000)]);
      await s.invalidate({ tags: ['ta'] });
      const dropped: string[] = [];
      await Promise.all([
        s.set('a', entry('a'), { ...opts(['ta']), snapshot: ta, onDropped: () => dropped.push('a') }),
        s.set('b', entry('b'), { ...opts(['tb']), snapshot: tb, onDropped: () => dropped.push('b') }),
      ]);
      expect(dropped).toEqual(['a']);
      expect(await s.get('a')).toBeUndefined();
      expect(text(await s.get('b'))).toBe('b');
    });

    it('onEvict reports no overwrite, invalidation or clear, and unsubscribes (if onEvict is supported)', async () => {
      const s = await make();
      if (!s.onEvict) return;
      const evicted: string[] = [];
      const off = s.onEvict((k) => evicted.push(k));
      expect(typeof off).toBe('function');
      await s.set('k', entry('one'), opts(['t']));
      await s.set('k', entry('two'), opts(['t']));
      await s.set('j', entry('j'), opts(['u']));
      await s.invalidate({ keys: ['k'] });
      await s.invalidate({ tags: ['u'] });
      await s.set('m', entry('m'), opts([]));
      await s.clear?.();
      expect(evicted).toEqual([]);
      off();
      off();
    });

    it('onEvict reports the entries evicted for lack of room (with the bounded option)', async () => {
      if (!options.bounded) return;
      const { capacity } = options.bounded;
      const s = await make(options.bounded.factory);
      if (!s.onEvict) return;
      const evicted: string[] = [];
      const off = s.onEvict((k) => evicted.push(k));
      const n = capacity + 5;
      for (let i = 0; i < n; i++) await s.set(`e${i}`, entry(`v${i}`), opts(['t']));
      expect(evicted.length).toBeGreaterThanOrEqual(5);
      expect(new Set(evicted).size).toBe(evicted.length);
      for (const k of evicted) {
        expect(k).toMatch(/^e\d+$/);
        expect(await s.get(k)).toBeUndefined();
      }
      off();
      const before = evicted.length;
      for (let i = n; i < n + capacity + 5; i++) await s.set(`e${i}`, entry(`v${i}`), opts(['t']));
      expect(evicted.length).toBe(before);
    });
  });
}
