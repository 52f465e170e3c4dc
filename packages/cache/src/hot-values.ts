import type { CacheEntry } from '@pg-multiverse/core';

/**
 * A small, bounded set of decoded values of recently hit entries, keyed by the
 * entry OBJECT (stores with `stableEntries` return the same object until the
 * entry changes, so a replaced or invalidated entry is simply never found
 * again and ages out). Saves decoding on every hit of a hot key.
 */
export function createHotValues(max: number) {
  const map = new Map<CacheEntry, unknown>();
  return {
    get(entry: CacheEntry): unknown {
      const v = map.get(entry);
      if (v !== undefined) {
        map.delete(entry);
        map.set(entry, v);
      }
      return v;
    },
    set(entry: CacheEntry, value: unknown): void {
      if (max <= 0 || value === undefined) return;
      map.set(entry, value);
      if (map.size > max) map.delete(map.keys().next().value!);
    },
    clear(): void {
      map.clear();
    },
    get size() {
      return map.size;
    },
  };
}
