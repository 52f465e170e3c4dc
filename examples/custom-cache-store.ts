// A custom cache store plugged into the facade: any object satisfying CacheStore.
// This one is a plain Map with tag indexes and a counter of calls, for illustration.
import type { CacheEntry, CacheSetOptions, CacheStore, ClusterConfiguration } from 'pg-multiverse';
import { PgMultiverse } from 'pg-multiverse';

export function mapStore(): CacheStore & { calls: Record<string, number> } {
  const entries = new Map<string, { entry: CacheEntry; tags: readonly string[] }>();
  const calls = { get: 0, set: 0, invalidate: 0 };
  return {
    name: 'map',
    calls,
    async get(key) {
      calls.get++;
      const e = entries.get(key);
      if (!e) return undefined;
      if (e.entry.expiresAt <= Date.now()) {
        entries.delete(key);
        return undefined;
      }
      return e.entry;
    },
    async set(key, entry, opts: CacheSetOptions) {
      calls.set++;
      entries.set(key, { entry, tags: opts.tags });
    },
    async invalidate({ keys = [], tags = [] }) {
      calls.invalidate++;
      let n = 0;
      for (const k of keys) if (entries.delete(k)) n++;
      for (const [k, e] of entries) {
        if (e.tags.some((t) => tags.includes(t))) {
          entries.delete(k);
          n++;
        }
      }
      return n;
    },
    async clear() {
      entries.clear();
    },
    stats() {
      return { itemCount: entries.size };
    },
  };
}

export async function run(config: ClusterConfiguration) {
  const store = mapStore();
  const postgres = new PgMultiverse({ enableCache: true, cache: { store } });
  await postgres.initialize(config);
  try {
    const a = await postgres.query('SELECT count(*)::int AS n FROM pg_catalog.pg_namespace', [], {
      schema: 'products',
      cache: true,
    });
    const b = await postgres.query('SELECT count(*)::int AS n FROM pg_catalog.pg_namespace', [], {
      schema: 'products',
      cache: true,
    });
    return { a: a.rows[0], b: b.rows[0], calls: { ...store.calls }, metrics: postgres.getMetrics().cache };
  } finally {
    await postgres.close();
  }
}
