import type { ResultOrigin } from './freshness.js';

/**
 * A cached query result. `value` is opaque to the store: the cache layer
 * serialises (and maybe compresses) results into it.
 */
export interface CacheEntry {
  /** Serialised payload (Buffer/Uint8Array or string). */
  value: Uint8Array | string;
  /** Wall-clock ms when stored. */
  storedAt: number;
  /** Wall-clock ms after which the entry is stale. */
  expiresAt: number;
  /** Tags attached at `set` (returned for inspection). */
  tags?: readonly string[];
  /** True when `value` is compressed. */
  compressed?: boolean;
  /**
   * Where the result was read (primary, or a replica at a replay position).
   * A store must return it as it was `set`; an entry without it is served
   * only to reads that accept any freshness (`eventual`).
   */
  origin?: ResultOrigin;
}

export interface CacheSetOptions {
  /** Time to live, ms (> 0). Stores must drop the entry by then (they may keep it up to `ttlMs + graceMs` for stale-while-revalidate). */
  ttlMs: number;
  /** Tags for bulk invalidation. */
  tags: readonly string[];
  /** Extra time the store may keep an expired entry for stale-while-revalidate. Default 0. */
  graceMs?: number;
  /**
   * The token `snapshot(key, tags, ...)` returned before the value was loaded
   * (only passed to stores that implement `snapshot`). The store must not
   * keep the entry if `key` or one of `tags` was invalidated (or the store
   * cleared) after the token was taken, by any client of the store. Without
   * a token the store stores unconditionally.
   */
  snapshot?: unknown;
  /** Called, before `set` resolves, when the store dropped the entry because of such an invalidation. */
  onDropped?: () => void;
}

/** What the caller of `get` knows in advance (stores may ignore it). */
export interface CacheGetHint {
  /**
   * The tags the caller expects the entry to carry (e.g. so a Redis store
   * fetches their versions with the entry, in one round trip). A hint only:
   * `get` must answer as it would without it.
   */
  tags?: readonly string[];
}

export interface InvalidationCriteria {
  keys?: readonly string[];
  tags?: readonly string[];
}

/**
 * Where cached results live. Implementations: `createMemoryStore()`,
 * `createRedisStore()` in `@pg-multiverse/cache`, or your own.
 *
 * Contract: after `invalidate({ tags: [t] })` resolves, no `get` returns an
 * entry that was `set` with tag `t` before the invalidation started.
 *
 * `get`, `set` and `invalidate` are all a store needs. The optional members
 * make the cache stronger or faster; each says what happens without it.
 */
export interface CacheStore {
  /** Name for metrics, e.g. `memory`, `redis`. */
  readonly name?: string;
  /**
   * True when `get` returns the SAME `CacheEntry` object for a key until the
   * entry is replaced or removed (and a new object after that). Lets the cache
   * keep decoded copies of hot entries, keyed by that object, instead of
   * decoding on every hit. Default false: every hit is decoded.
   */
  readonly stableEntries?: boolean;
  /** The entry, or `undefined`. `hint` may be ignored. */
  get(key: string, hint?: CacheGetHint): Promise<CacheEntry | undefined>;
  /** Store `entry`; with `opts.snapshot`, only if nothing it depends on was invalidated since (else `opts.onDropped()`). */
  set(key: string, entry: CacheEntry, opts: CacheSetOptions): Promise<void>;
  /** Remove entries by key and/or tag. Resolves to the number of entries (or tags) removed, best effort. */
  invalidate(criteria: InvalidationCriteria): Promise<number>;
  /**
   * Take a token before loading a value for `key` with `tags`, to pass to
   * `set` (`opts.snapshot`) so a fill that raced with an invalidation (from
   * this or ANY other client of the store) is dropped. `lifetimeMs` is how
   * long the entry may live (ttl + grace). Default (absent): the cache drops
   * racing fills only for invalidations made through the same cache
   * instance; one arriving from elsewhere (another process on a shared store)
   * while a load runs can leave the old result stored until its TTL.
   */
  snapshot?(key: string, tags: readonly string[], lifetimeMs: number): Promise<unknown>;
  /**
   * Subscribe to evictions for lack of room (not expiry, invalidation,
   * replacement or `clear`); returns the unsubscribe function. Default
   * (absent): no `cacheEvicted` events and `stats().evictions` stays 0.
   */
  onEvict?(listener: (key: string) => void): () => void;
  /** Remove everything this store owns. Default (absent): `cache.clear()` and "clear all" messages remove nothing from the store. */
  clear?(): Promise<void>;
  /** Optional: called by `PgMultiverse#initialize()`; reject to refuse the start (e.g. a missing driver). */
  ready?(): Promise<void>;
  /** Release connections/timers. */
  close?(): Promise<void>;
  /** Entry count and bytes, if known. Default (absent): the cache reports 0 for both. */
  stats?(): { itemCount: number; bytes?: number };
}
