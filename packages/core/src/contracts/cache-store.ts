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
 */
export interface CacheStore {
  /** Name for metrics, e.g. `memory`, `redis`. */
  readonly name?: string;
  get(key: string): Promise<CacheEntry | undefined>;
  set(key: string, entry: CacheEntry, opts: CacheSetOptions): Promise<void>;
  /** Remove entries by key and/or tag. Resolves to the number of entries (or tags) removed, best effort. */
  invalidate(criteria: InvalidationCriteria): Promise<number>;
  /** Remove everything this store owns. */
  clear?(): Promise<void>;
  /** Release connections/timers. */
  close?(): Promise<void>;
  /** Entry count and bytes, if known. */
  stats?(): { itemCount: number; bytes?: number };
}
