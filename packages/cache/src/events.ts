import type { PgmError } from '@pg-multiverse/core';

/** Events of a `QueryCache` (`cache.on(name, listener)`). */
export interface QueryCacheEvents {
  /** A lookup was answered from the cache (also for stale-while-revalidate answers, with `stale: true`). */
  cacheHit: { key: string; schema: string | undefined; tags: readonly string[]; stale: boolean };
  /**
   * A lookup found nothing usable; the loader runs (or is joined, `shared: true`).
   * `unfit: true`: an entry was there but not fresh enough for the read (see `WrapOptions.freshness`).
   */
  cacheMiss: { key: string; schema: string | undefined; tags: readonly string[]; shared: boolean; unfit?: boolean };
  /** An expired entry was served within `swrMs` while one refresh runs. */
  cacheStale: { key: string; schema: string | undefined; tags: readonly string[]; ageMs: number };
  /** A loaded value was stored. */
  cacheSet: { key: string; tags: readonly string[]; bytes: number; compressed: boolean; ttlMs: number };
  /** A loaded value was NOT stored because an invalidation raced with the load. */
  cacheFillDropped: { key: string; tags: readonly string[] };
  /** Entries were invalidated. `source`: this process (`local`), a committed write (`write`), another instance (`remote`), or a listener reconnect gap (`gap`). */
  cacheInvalidated: {
    tags: readonly string[];
    keys: readonly string[];
    all: boolean;
    count: number;
    source: 'local' | 'write' | 'remote' | 'gap';
  };
  /** The store evicted an entry for lack of room. */
  cacheEvicted: { key: string; reason: 'evict' };
  /** A store or notify-bus operation failed; the query itself still ran. */
  cacheError: { error: PgmError; operation: 'get' | 'set' | 'decode' | 'invalidate' | 'notify' | 'clear' };
}

export type QueryCacheEventName = keyof QueryCacheEvents;
