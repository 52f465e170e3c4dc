import type { CacheEntry, CacheSetOptions, CacheStore } from '@pg-multiverse/core';

/**
 * What the stores of this package offer beyond the core `CacheStore`
 * contract. All of it is optional: a plain `CacheStore` works with
 * `createQueryCache`, with race protection limited to this process.
 */
export interface RaceSafeSetOptions extends CacheSetOptions {
  /** Token from `snapshot()` taken before the value was loaded. */
  snapshot?: unknown;
  /** Called (before `set` resolves) when the fill was dropped because an invalidation raced with it. */
  onDropped?: () => void;
}

export interface QueryCacheStore extends CacheStore {
  /** True when `get` returns the same CacheEntry object until the entry is replaced or removed (lets the cache keep decoded copies of hot entries). */
  readonly stableEntries?: boolean;
  /** `hint.tags`: tags the caller expects the entry to carry (lets the Redis store validate in one round trip). */
  get(key: string, hint?: { tags?: readonly string[] }): Promise<CacheEntry | undefined>;
  /**
   * Stores the entry unless the key or one of its tags was invalidated after
   * `opts.snapshot` was taken (then calls `opts.onDropped`).
   */
  set(key: string, entry: CacheEntry, opts: RaceSafeSetOptions): Promise<void>;
  /**
   * Take a token before loading a value for `key` with `tags`; pass it to
   * `set`. `lifetimeMs` is how long the entry may live (ttl + grace).
   */
  snapshot?(key: string, tags: readonly string[], lifetimeMs: number): Promise<unknown>;
  /** Called when an entry is evicted for lack of room. */
  onEvict?(listener: (key: string) => void): () => void;
}
