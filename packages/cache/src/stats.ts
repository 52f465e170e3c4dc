/** Counters of a `QueryCache` (`cache.stats()`). */
export interface QueryCacheStats {
  hits: number;
  misses: number;
  /** Hits served stale within `swrMs` (also counted in `hits`). */
  staleHits: number;
  /** Evictions for lack of room (stores that report them). */
  evictions: number;
  sets: number;
  /** Fills dropped because an invalidation raced with the load. */
  droppedFills: number;
  /** Invalidation calls (local, write, remote, gap). */
  invalidations: number;
  errors: number;
  /** Entries in the store (memory store; 0 when the store does not say). */
  itemCount: number;
  /** Bytes in the store (memory store; 0 when the store does not say). */
  bytes: number;
  /** hits / (hits + misses), 0..1. */
  hitRate: number;
  /** Per tag: lookups answered (hits), missed, and invalidations naming it. At most `maxTrackedTags` tags. */
  perTag: Record<string, { hits: number; misses: number; invalidations: number }>;
}

export interface TagCounter {
  hits: number;
  misses: number;
  invalidations: number;
}

export function createCounters(maxTrackedTags: number) {
  const c = {
    hits: 0,
    misses: 0,
    staleHits: 0,
    evictions: 0,
    sets: 0,
    droppedFills: 0,
    invalidations: 0,
    errors: 0,
    perTag: new Map<string, TagCounter>(),
    tag(t: string): TagCounter | undefined {
      let x = c.perTag.get(t);
      if (!x && c.perTag.size < maxTrackedTags) c.perTag.set(t, (x = { hits: 0, misses: 0, invalidations: 0 }));
      return x;
    },
  };
  return c;
}
