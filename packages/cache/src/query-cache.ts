import { EventEmitter } from 'node:events';
import type {
  CacheEntry,
  CacheOptions,
  CacheStore,
  Freshness,
  InvalidationCriteria,
  ResultOrigin,
} from '@pg-multiverse/core';
import {
  ANY_FRESHNESS,
  freshnessCovers,
  PgmError,
  satisfiesFreshness,
  validateCacheOptions,
} from '@pg-multiverse/core';
import { decodeValue, encodeValue } from './codec.js';
import type { QueryCacheEventName, QueryCacheEvents } from './events.js';
import { fastClone } from './fast-clone.js';
import { createHotValues } from './hot-values.js';
import { type KeyInput, keyFor } from './key.js';
import { createMemoryStore } from './memory-store.js';
import { type BusInvalidation, createNotifyBus, type NotifyBus, type NotifyBusOptions } from './notify-bus.js';
import type { NotifyMessage } from './notify-message.js';
import { createCounters, type QueryCacheStats } from './stats.js';
import { schemaTag, type TagsInput, tagsFor, type WriteInput, writeTags } from './tags.js';

/**
 * Options of `createQueryCache`: core's `CacheOptions` (the facade's `cache`
 * option: store, maxSize, maxBytes, ttl, enableCompression,
 * compressionThreshold, swrMs; one definition, in core) plus the cache's own.
 */
export interface QueryCacheOptions extends CacheOptions {
  /** What a committed write invalidates: the tables it writes (`tables`, default) or its whole schema (`schema`). */
  writeInvalidation?: 'tables' | 'schema';
  /** Max tags tracked in `stats().perTag`. Default 1000. */
  maxTrackedTags?: number;
  /**
   * Keep decoded values of this many recently hit entries (stores with
   * `stableEntries`, like the memory store), so a hit copies a value instead
   * of decoding it. Default 256; 0 = decode on every hit.
   */
  hotEntries?: number;
}

export interface WrapOptions {
  /** Time to live, ms. Default the cache's `ttl`. */
  ttlMs?: number;
  /** Tags for invalidation (usually from `tagsFor`). */
  tags?: readonly string[];
  /** For events. */
  schema?: string;
  /**
   * What a cached entry (or a load already in flight) must satisfy to answer
   * this lookup. Default `{ level: 'any' }`. An entry that does not is a miss
   * (`cacheMiss` with `unfit: true`); this lookup's own load replaces it.
   */
  freshness?: Freshness;
  /**
   * Where a loaded value came from (e.g. `(r) => r.route.origin` for router
   * results), stored with the entry. Without it entries have no origin and
   * satisfy only `any`.
   */
  originOf?: (value: unknown) => ResultOrigin | undefined;
}

export interface WrapResult<T> {
  value: T;
  /** Answered from the cache (possibly stale). */
  hit: boolean;
  /** Answered with an expired entry within `swrMs`. */
  stale: boolean;
}

/** `invalidate()` criteria: `schema` is shorthand for the tag `schema:<schema>`. */
export interface QueryCacheInvalidation extends InvalidationCriteria {
  schema?: string;
}

export interface QueryCache {
  readonly store: CacheStore;
  keyFor(input: KeyInput): string;
  tagsFor(input: TagsInput): string[];
  wrap<T>(key: string, options: WrapOptions, loader: () => Promise<T>): Promise<WrapResult<T>>;
  invalidate(criteria: QueryCacheInvalidation): Promise<number>;
  invalidateWrites(writes: readonly WriteInput[]): Promise<number>;
  clear(): Promise<void>;
  attachNotify(targets: readonly (NotifyBus | NotifyBusOptions)[]): Promise<void>;
  stats(): QueryCacheStats;
  on<E extends QueryCacheEventName>(event: E, listener: (payload: QueryCacheEvents[E]) => void): QueryCache;
  off<E extends QueryCacheEventName>(event: E, listener: (payload: QueryCacheEvents[E]) => void): QueryCache;
  once<E extends QueryCacheEventName>(event: E, listener: (payload: QueryCacheEvents[E]) => void): QueryCache;
  close(): Promise<void>;
}

interface Flight {
  promise: Promise<unknown>;
  key: string;
  tags: ReadonlySet<string>;
  poisoned: boolean;
  /** What the load was started for: lookups join it only if that covers what they need. */
  freshness: Freshness;
  /** Where its value came from (set when the loader resolves; `at` = wall-clock ms the load started). */
  origin?: ResultOrigin;
}

function dedupe(tags: readonly string[] | undefined): string[] {
  if (!tags || tags.length === 0) return [];
  for (let i = 1; i < tags.length; i++) if (tags.indexOf(tags[i]!, 0) !== i) return [...new Set(tags)];
  return tags as string[];
}

function nonNegative(name: string, v: number | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0) throw new PgmError('INVALID_ARGUMENT', `createQueryCache: ${name} must be >= 0`);
  return v;
}

/**
 * Query-result cache: stable keys, automatic table tags, single-flight loads,
 * optional stale-while-revalidate, invalidation on committed writes that never
 * lets a racing fill store stale data, and cross-instance invalidation (shared
 * Redis store, or LISTEN/NOTIFY buses for per-instance memory stores).
 */
export function createQueryCache(options: QueryCacheOptions = {}): QueryCache {
  validateCacheOptions(options);
  const ttl = nonNegative('ttl', options.ttl, 300_000) || 300_000;
  const swrMs = nonNegative('swrMs', options.swrMs, 0);
  const codec = {
    enableCompression: options.enableCompression ?? false,
    compressionThreshold: nonNegative('compressionThreshold', options.compressionThreshold, 1024),
  };
  const store: CacheStore =
    options.store ??
    createMemoryStore({
      ...(options.maxSize !== undefined ? { maxSize: options.maxSize } : {}),
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
      ttl,
    });
  const writeMode = options.writeInvalidation ?? 'tables';
  const counters = createCounters(options.maxTrackedTags ?? 1000);
  const emitter = new EventEmitter();
  /** Loads in flight per key (several when lookups needing more freshness could not join the first). */
  const inflight = new Map<string, Flight[]>();
  const leave = (f: Flight) => {
    const list = inflight.get(f.key);
    if (!list) return;
    const i = list.indexOf(f);
    if (i < 0) return;
    if (list.length === 1) inflight.delete(f.key);
    else list.splice(i, 1);
  };
  /** A load in flight for `key` whose value will satisfy `need`. */
  const joinable = (key: string, need: Freshness): Flight | undefined => {
    const list = inflight.get(key);
    if (!list) return undefined;
    for (const f of list) if (!f.poisoned && freshnessCovers(f.freshness, need)) return f;
    return undefined;
  };
  const hot = createHotValues(store.stableEntries ? (options.hotEntries ?? 256) : 0);
  const buses: NotifyBus[] = [];
  const unsubscribers: (() => void)[] = [];
  let closed = false;

  const emit = <E extends QueryCacheEventName>(event: E, payload: QueryCacheEvents[E]) => {
    if (emitter.listenerCount(event) > 0) emitter.emit(event, payload);
  };
  const reportError = (operation: QueryCacheEvents['cacheError']['operation'], err: unknown) => {
    counters.errors++;
    const error =
      err instanceof PgmError
        ? err
        : new PgmError('CACHE_ERROR', `cache ${operation} failed: ${(err as Error)?.message ?? String(err)}`, {
            cause: err,
          });
    emit('cacheError', { error, operation });
  };
  const unsubscribeEvict = store.onEvict?.((key) => {
    counters.evictions++;
    emit('cacheEvicted', { key, reason: 'evict' });
  });

  /** Mark in-flight loads that an invalidation touched: they must not store, and new lookups must not join them. */
  const poison = (c: { keys?: readonly string[]; tags?: readonly string[]; all?: boolean }) => {
    for (const list of [...inflight.values()]) {
      for (const f of [...list]) {
        if (f.poisoned) continue;
        if (c.all || c.keys?.includes(f.key) || c.tags?.some((t) => f.tags.has(t))) {
          f.poisoned = true;
          leave(f);
        }
      }
    }
  };

  const countTags = (tags: readonly string[], field: 'hits' | 'misses' | 'invalidations') => {
    for (const t of tags) {
      const c = counters.tag(t);
      if (c) c[field]++;
    }
  };

  /** Bypass while a notify bus is down: other instances' invalidations could be missed. */
  const bypass = () => closed || buses.some((b) => !b.connected);

  const load = <T>(
    key: string,
    tags: string[],
    ttlMs: number,
    loader: () => Promise<T>,
    freshness: Freshness,
    originOf: WrapOptions['originOf'],
  ): Flight => {
    const flight: Flight = { promise: undefined as never, key, tags: new Set(tags), poisoned: false, freshness };
    flight.promise = (async () => {
      let token: unknown;
      if (store.snapshot) {
        try {
          token = await store.snapshot(key, tags, ttlMs + swrMs);
        } catch (err) {
          reportError('set', err);
          token = null;
        }
      }
      let value: T;
      const startedAt = Date.now();
      try {
        value = await loader();
        const origin = originOf?.(value);
        // The read happened after the load started: its age is counted from then (never younger than it is).
        if (origin) flight.origin = { ...origin, at: startedAt };
      } finally {
        leave(flight);
      }
      if (flight.poisoned || token === null || bypass()) {
        if (flight.poisoned) {
          counters.droppedFills++;
          emit('cacheFillDropped', { key, tags });
        }
        return value;
      }
      try {
        const enc = encodeValue(value, codec);
        const now = Date.now();
        const entry: CacheEntry = {
          value: enc.bytes,
          storedAt: now,
          expiresAt: now + ttlMs,
          tags,
          compressed: enc.compressed,
        };
        if (flight.origin) entry.origin = flight.origin;
        let dropped = false;
        const onDropped = () => {
          dropped = true;
        };
        await store.set(key, entry, { ttlMs, tags, graceMs: swrMs, snapshot: token, onDropped });
        if (dropped || flight.poisoned) {
          counters.droppedFills++;
          emit('cacheFillDropped', { key, tags });
          // A store without snapshot support may have stored it after a local invalidation: remove it.
          if (!dropped && !store.snapshot) await store.invalidate({ keys: [key] });
        } else {
          counters.sets++;
          emit('cacheSet', { key, tags, bytes: enc.bytes.length, compressed: enc.compressed, ttlMs });
        }
      } catch (err) {
        reportError('set', err);
      }
      return value;
    })();
    const list = inflight.get(key);
    if (list) list.push(flight);
    else inflight.set(key, [flight]);
    return flight;
  };

  /** Whether a settled load's value may answer a lookup needing `need` (it joined by the load's intent). */
  const fits = (f: Flight, need: Freshness): boolean =>
    need.level === 'any' || satisfiesFreshness(f.origin, need, Date.now());

  const awaitFlight = async <T>(
    f: Flight,
    key: string,
    tags: string[],
    ttlMs: number,
    loader: () => Promise<T>,
    need: Freshness,
    originOf: WrapOptions['originOf'],
  ): Promise<T> => {
    const value = (await f.promise) as T;
    if (fits(f, need)) return value;
    // Joined a load that came back less fresh than this lookup needs (e.g. a replica fell behind): load again.
    const own = load(key, tags, ttlMs, loader, need, originOf);
    return (await own.promise) as T;
  };

  const applyInvalidation = async (
    c: { keys?: readonly string[]; tags?: readonly string[]; all?: boolean },
    source: QueryCacheEvents['cacheInvalidated']['source'],
  ): Promise<number> => {
    poison(c);
    counters.invalidations++;
    countTags(c.tags ?? [], 'invalidations');
    let count = 0;
    if (c.all) {
      hot.clear();
      await store.clear?.();
    } else count = await store.invalidate({ keys: c.keys ?? [], tags: c.tags ?? [] });
    emit('cacheInvalidated', { tags: c.tags ?? [], keys: c.keys ?? [], all: !!c.all, count, source });
    return count;
  };

  const broadcast = async (msg: NotifyMessage, clusterId?: string) => {
    if (buses.length === 0) return;
    const bus =
      buses.find((b) => b.clusterId === clusterId && b.connected) ?? buses.find((b) => b.connected) ?? buses[0]!;
    try {
      await bus.publish(msg);
    } catch (err) {
      reportError('notify', err);
    }
  };

  const onRemote = (inv: BusInvalidation) => {
    applyInvalidation(inv, inv.gap ? 'gap' : 'remote').catch((err) => reportError('invalidate', err));
  };

  const cache: QueryCache = {
    store,
    keyFor,
    tagsFor,

    async wrap<T>(key: string, opts: WrapOptions, loader: () => Promise<T>): Promise<WrapResult<T>> {
      if (typeof loader !== 'function') throw new PgmError('INVALID_ARGUMENT', 'cache.wrap(key, options, loader)');
      const tags = dedupe(opts.tags);
      const schema = opts.schema;
      const ttlMs = opts.ttlMs !== undefined && opts.ttlMs > 0 ? opts.ttlMs : ttl;
      if (bypass()) return { value: await loader(), hit: false, stale: false };
      const need = opts.freshness ?? ANY_FRESHNESS;
      const originOf = opts.originOf;

      const joined = joinable(key, need);
      if (joined) {
        counters.misses++;
        countTags(tags, 'misses');
        emit('cacheMiss', { key, schema, tags, shared: true });
        return { value: await awaitFlight(joined, key, tags, ttlMs, loader, need, originOf), hit: false, stale: false };
      }

      let entry: CacheEntry | undefined;
      try {
        entry = await store.get(key, { tags });
      } catch (err) {
        reportError('get', err);
      }
      let unfit = false;
      if (entry) {
        const now = Date.now();
        const stale = now >= entry.expiresAt;
        unfit = need.level !== 'any' && !satisfiesFreshness(entry.origin, need, now);
        if (!unfit && (!stale || now < entry.expiresAt + swrMs)) {
          try {
            let value = hot.get(entry) as T | undefined;
            if (value === undefined) {
              value = decodeValue<T>(entry.value, entry.compressed);
              hot.set(entry, fastClone(value));
            } else value = fastClone(value);
            counters.hits++;
            countTags(tags, 'hits');
            if (stale) {
              counters.staleHits++;
              emit('cacheStale', { key, schema, tags, ageMs: now - entry.storedAt });
              if (!inflight.has(key)) load(key, tags, ttlMs, loader, need, originOf).promise.catch(() => {});
            }
            emit('cacheHit', { key, schema, tags, stale });
            return { value, hit: true, stale };
          } catch (err) {
            reportError('decode', err);
          }
        }
      }

      counters.misses++;
      countTags(tags, 'misses');
      const again = joinable(key, need);
      emit('cacheMiss', unfit ? { key, schema, tags, shared: !!again, unfit } : { key, schema, tags, shared: !!again });
      if (again)
        return { value: await awaitFlight(again, key, tags, ttlMs, loader, need, originOf), hit: false, stale: false };
      const flight = load(key, tags, ttlMs, loader, need, originOf);
      return { value: (await flight.promise) as T, hit: false, stale: false };
    },

    async invalidate(criteria) {
      if (!criteria || typeof criteria !== 'object') {
        throw new PgmError('INVALID_ARGUMENT', 'cache.invalidate({ schema | tags | keys })');
      }
      const tags = [...(criteria.tags ?? [])];
      if (criteria.schema !== undefined) tags.push(schemaTag(criteria.schema));
      const keys = [...(criteria.keys ?? [])];
      if (tags.length === 0 && keys.length === 0) return 0;
      let count: number;
      try {
        count = await applyInvalidation({ tags, keys }, 'local');
      } catch (err) {
        throw err instanceof PgmError ? err : new PgmError('CACHE_ERROR', 'cache invalidation failed', { cause: err });
      }
      await broadcast({ tags, keys });
      return count;
    },

    async invalidateWrites(writes) {
      const tags = new Set<string>();
      // Each write's tags go out on the bus of the cluster it was written on.
      const byCluster = new Map<string | undefined, Set<string>>();
      for (const w of writes) {
        let own = byCluster.get(w.clusterId);
        if (!own) byCluster.set(w.clusterId, (own = new Set()));
        for (const t of writeTags(w, writeMode)) {
          tags.add(t);
          own.add(t);
        }
      }
      if (tags.size === 0) return 0;
      let count = 0;
      try {
        count = await applyInvalidation({ tags: [...tags] }, 'write');
      } catch (err) {
        reportError('invalidate', err);
      }
      if (buses.length > 0) {
        const sends: Promise<void>[] = [];
        for (const [clusterId, own] of byCluster)
          if (own.size > 0) sends.push(broadcast({ tags: [...own] }, clusterId));
        await Promise.all(sends);
      }
      return count;
    },

    async clear() {
      await applyInvalidation({ all: true }, 'local');
      await broadcast({ all: true });
    },

    async attachNotify(targets) {
      const fresh = targets.map((t) => ('subscribe' in t && 'publish' in t ? t : createNotifyBus(t)));
      for (const bus of fresh) {
        buses.push(bus);
        unsubscribers.push(bus.subscribe(onRemote));
        bus.on('error', (e) => e && reportError('notify', e.error));
      }
      await Promise.all(fresh.map((b) => b.start()));
    },

    stats() {
      const s = store.stats?.();
      const lookups = counters.hits + counters.misses;
      const perTag: QueryCacheStats['perTag'] = {};
      for (const [t, c] of counters.perTag) perTag[t] = { ...c };
      return {
        hits: counters.hits,
        misses: counters.misses,
        staleHits: counters.staleHits,
        evictions: counters.evictions,
        sets: counters.sets,
        droppedFills: counters.droppedFills,
        invalidations: counters.invalidations,
        errors: counters.errors,
        itemCount: s?.itemCount ?? 0,
        bytes: s?.bytes ?? 0,
        hitRate: lookups === 0 ? 0 : counters.hits / lookups,
        perTag,
      };
    },

    on(event, listener) {
      emitter.on(event, listener as (p: unknown) => void);
      return cache;
    },
    off(event, listener) {
      emitter.off(event, listener as (p: unknown) => void);
      return cache;
    },
    once(event, listener) {
      emitter.once(event, listener as (p: unknown) => void);
      return cache;
    },

    async close() {
      if (closed) return;
      closed = true;
      poison({ all: true });
      hot.clear();
      unsubscribeEvict?.();
      for (const u of unsubscribers) u();
      await Promise.allSettled(buses.map((b) => b.close()));
      if (!options.store) await store.close?.();
    },
  };
  return cache;
}
