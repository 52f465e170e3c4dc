import type { CacheEntry, CacheSetOptions, CacheStore, InvalidationCriteria } from '@pg-multiverse/core';
import { PgmError } from '@pg-multiverse/core';
import { LRUCache } from 'lru-cache';
import { createInvalidationLog } from './invalidation-log.js';

export interface MemoryStoreOptions {
  /** Max entries. Default 1000. */
  maxSize?: number;
  /** Max total bytes (payload + key + bookkeeping estimate). Default 64 MiB. */
  maxBytes?: number;
  /** TTL for `set` calls without `ttlMs`, ms. Default 300000. */
  ttl?: number;
}

export interface MemoryStore extends CacheStore {
  readonly name: 'memory';
  readonly stableEntries: true;
  snapshot(key: string, tags: readonly string[], lifetimeMs: number): Promise<unknown>;
  onEvict(listener: (key: string) => void): () => void;
  clear(): Promise<void>;
  close(): Promise<void>;
  stats(): { itemCount: number; bytes: number };
}

interface Slot {
  entry: CacheEntry;
  tags: readonly string[];
}

// Rough per-entry bookkeeping cost (LRU node, slot, entry object, tag index refs).
const OVERHEAD_BYTES = 200;

function positiveInt(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v <= 0) throw new PgmError('INVALID_ARGUMENT', `createMemoryStore: ${name} must be > 0`);
  return Math.floor(v);
}

/**
 * An in-process LRU store bounded by entry count AND bytes (lru-cache).
 * Tags are indexed in memory; `invalidate` removes synchronously. Supports
 * `snapshot` so a fill that raced with an invalidation is dropped.
 */
export function createMemoryStore(options: MemoryStoreOptions = {}): MemoryStore {
  const max = positiveInt('maxSize', options.maxSize, 1000);
  const maxBytes = positiveInt('maxBytes', options.maxBytes, 64 * 1024 * 1024);
  const defaultTtl = positiveInt('ttl', options.ttl, 300_000);
  const byTag = new Map<string, Set<string>>();
  const evictListeners = new Set<(key: string) => void>();
  const log = createInvalidationLog();

  const unindex = (key: string, tags: readonly string[]) => {
    for (const t of tags) {
      const s = byTag.get(t);
      if (!s) continue;
      s.delete(key);
      if (s.size === 0) byTag.delete(t);
    }
  };

  const lru = new LRUCache<string, Slot>({
    max,
    maxSize: maxBytes,
    sizeCalculation: (slot, key) => slot.entry.value.length + key.length * 2 + OVERHEAD_BYTES,
    dispose: (slot, key, reason) => {
      unindex(key, slot.tags);
      if (reason === 'evict') for (const l of evictListeners) l(key);
    },
  });

  const removeKey = (key: string) => lru.delete(key);

  return {
    name: 'memory',
    stableEntries: true,
    async get(key) {
      return lru.get(key)?.entry;
    },
    async snapshot() {
      return log.generation();
    },
    async set(key, entry, opts: CacheSetOptions) {
      const tags = opts.tags ?? [];
      if (typeof opts.snapshot === 'number' && log.touchedSince(opts.snapshot, key, tags)) {
        opts.onDropped?.();
        return;
      }
      const ttl = (opts.ttlMs > 0 ? opts.ttlMs : defaultTtl) + Math.max(0, opts.graceMs ?? 0);
      const size = entry.value.length + key.length * 2 + OVERHEAD_BYTES;
      if (size > maxBytes) return;
      lru.set(key, { entry: { ...entry, tags }, tags }, { ttl });
      for (const t of tags) {
        let s = byTag.get(t);
        if (!s) byTag.set(t, (s = new Set()));
        s.add(key);
      }
    },
    async invalidate(c: InvalidationCriteria) {
      log.record(c);
      let n = 0;
      for (const k of c.keys ?? []) if (removeKey(k)) n++;
      for (const t of c.tags ?? []) {
        const s = byTag.get(t);
        if (!s) continue;
        for (const k of [...s]) if (removeKey(k)) n++;
      }
      return n;
    },
    async clear() {
      log.record({ all: true });
      lru.clear();
      byTag.clear();
    },
    async close() {
      lru.clear();
      byTag.clear();
      evictListeners.clear();
    },
    onEvict(listener) {
      evictListeners.add(listener);
      return () => evictListeners.delete(listener);
    },
    stats() {
      return { itemCount: lru.size, bytes: lru.calculatedSize };
    },
  };
}
