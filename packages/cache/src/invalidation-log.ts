/**
 * A bounded log of recent invalidations, so a store can tell whether a fill
 * that started at generation `g` raced with an invalidation that touched its
 * key or tags. Older than the log window: assume it raced (drop the fill).
 */
export interface InvalidationLog {
  /** Current generation; a fill records it when it starts. */
  generation(): number;
  record(criteria: { keys?: readonly string[]; tags?: readonly string[]; all?: boolean }): void;
  /** True when an invalidation after `since` touched `key` or any of `tags`. */
  touchedSince(since: number, key: string, tags: readonly string[]): boolean;
}

interface Item {
  gen: number;
  all: boolean;
  keys: ReadonlySet<string>;
  tags: ReadonlySet<string>;
}

export function createInvalidationLog(capacity = 1024): InvalidationLog {
  const ring: (Item | undefined)[] = new Array(capacity);
  let gen = 0;
  return {
    generation: () => gen,
    record(c) {
      gen++;
      ring[gen % capacity] = { gen, all: c.all === true, keys: new Set(c.keys ?? []), tags: new Set(c.tags ?? []) };
    },
    touchedSince(since, key, tags) {
      if (since === gen) return false;
      if (gen - since >= capacity) return true;
      for (let g = since + 1; g <= gen; g++) {
        const it = ring[g % capacity];
        if (!it || it.gen !== g) return true;
        if (it.all || it.keys.has(key)) return true;
        for (const t of tags) if (it.tags.has(t)) return true;
      }
      return false;
    },
  };
}
