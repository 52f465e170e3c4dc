import { randomBytes } from 'node:crypto';
import type { CacheEntry, CacheSetOptions, CacheStore, InvalidationCriteria } from '@pg-multiverse/core';
import { PgmError, redactSecrets } from '@pg-multiverse/core';
import { packEntry, unpackEntry } from './redis-entry.js';
import { SET_SCRIPT, SNAPSHOT_SCRIPT, sha1 } from './redis-scripts.js';

/** The part of an ioredis `Redis` or `Cluster` client this store uses. */
export interface RedisLike {
  call(command: string, ...args: (string | number | Buffer)[]): Promise<unknown>;
  callBuffer(command: string, ...args: (string | number | Buffer)[]): Promise<unknown>;
  pipeline(): { call(command: string, ...args: (string | number | Buffer)[]): unknown; exec(): Promise<unknown> };
  /** ioredis Cluster: the master nodes (for SCAN in `clear`). */
  nodes?(role?: 'master' | 'slave' | 'all'): RedisLike[];
  quit?(): Promise<unknown>;
  disconnect?(): void;
  on?(event: 'error', listener: (err: Error) => void): unknown;
}

export interface RedisStoreOptions {
  /** An ioredis `Redis` or `Cluster` you own (not closed by `close()`). */
  redis?: RedisLike;
  /** Or a URL (`redis://host:6379/0`, `rediss://...`): the store opens (and closes) its own client. */
  url?: string;
  /** Extra ioredis options for the client opened from `url`. */
  redisOptions?: Record<string, unknown>;
  /** Namespace of every key; also the Redis Cluster hash tag (`{prefix}`). Default `pgm`. */
  prefix?: string;
  /** Fail a cache command after this many ms (client opened from `url`). Default 2000. */
  commandTimeoutMs?: number;
  /** Connection errors of the client opened from `url` (failed commands reach the cache as `cacheError` anyway). Default: ignored. */
  onConnectionError?: (err: Error) => void;
}

export interface RedisStore extends CacheStore {
  readonly name: 'redis';
  snapshot(key: string, tags: readonly string[], lifetimeMs: number): Promise<unknown>;
  /** Remove every key of this prefix (SCAN + UNLINK; never FLUSHDB). */
  clear(): Promise<void>;
  /** Load ioredis and open the client (without waiting for Redis): rejects with `CACHE_ERROR` "npm install ioredis" when it is missing. */
  ready(): Promise<void>;
  /** Quit the client opened from `url`; a caller-owned client stays open. */
  close(): Promise<void>;
}

interface Token {
  key: string;
  tags: readonly string[];
  versions: string[];
}

const fresh = () => randomBytes(12).toString('base64url');

function cacheError(message: string, cause: unknown): PgmError {
  const detail = cause instanceof Error ? `: ${redactSecrets(cause.message)}` : '';
  return new PgmError('CACHE_ERROR', `${message}${detail}`, { cause });
}

/**
 * A store shared by several application instances, on Redis via ioredis
 * (loaded lazily). Every key has a TTL. Tags are version keys: invalidating a
 * tag replaces its random version, so entries that recorded the old version
 * are never served again and expire on their own (no unbounded sets). All
 * keys share the hash tag `{prefix}`, so multi-key scripts work on Redis
 * Cluster. `clear()` removes only this prefix, with SCAN.
 */
export function createRedisStore(options: RedisStoreOptions): RedisStore {
  if (!options || (!options.redis && !options.url)) {
    throw new PgmError('INVALID_ARGUMENT', 'createRedisStore: pass { redis } (an ioredis client) or { url }');
  }
  const prefix = options.prefix ?? 'pgm';
  if (!prefix || /[{}]/.test(prefix)) {
    throw new PgmError('INVALID_ARGUMENT', 'createRedisStore: prefix must be non-empty and contain no { or }');
  }
  const ns = `{${prefix}}`;
  const E = (key: string) => `${ns}:e:${key}`;
  const K = (key: string) => `${ns}:k:${key}`;
  const T = (tag: string) => `${ns}:t:${tag}`;
  const ownsClient = !options.redis;
  let clientPromise: Promise<RedisLike> | undefined = options.redis ? Promise.resolve(options.redis) : undefined;
  let closed = false;

  const client = (): Promise<RedisLike> => {
    if (closed) return Promise.reject(new PgmError('CLOSED', 'this Redis cache store was closed'));
    clientPromise ??= (async () => {
      let mod: { default?: unknown; Redis?: unknown };
      try {
        mod = (await import('ioredis')) as never;
      } catch (cause) {
        throw new PgmError(
          'CACHE_ERROR',
          'createRedisStore({ url }) needs the ioredis package, which is not installed: npm install ioredis',
          {
            cause,
          },
        );
      }
      const Ctor = (mod.Redis ?? mod.default) as new (url: string, o: Record<string, unknown>) => RedisLike;
      const r = new Ctor(options.url!, {
        maxRetriesPerRequest: 1,
        commandTimeout: options.commandTimeoutMs ?? 2000,
        ...options.redisOptions,
      });
      r.on?.('error', (err) => options.onConnectionError?.(err));
      return r;
    })();
    return clientPromise;
  };

  const shas = new Map<string, string>();
  const script = async (r: RedisLike, body: string, keys: string[], args: (string | number | Buffer)[]) => {
    let sha = shas.get(body);
    if (!sha) shas.set(body, (sha = sha1(body)));
    try {
      return await r.call('EVALSHA', sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (!String((err as Error)?.message).includes('NOSCRIPT')) throw err;
      return r.call('EVAL', body, keys.length, ...keys, ...args);
    }
  };

  const snapshot = async (key: string, tags: readonly string[], lifetimeMs: number): Promise<Token> => {
    const r = await client();
    const keys = [K(key), ...tags.map(T)];
    try {
      const versions = (await script(r, SNAPSHOT_SCRIPT, keys, [
        Math.max(1, Math.ceil(lifetimeMs)),
        ...keys.map(fresh),
      ])) as string[];
      return { key, tags: [...tags], versions };
    } catch (err) {
      throw cacheError('Redis cache snapshot failed', err);
    }
  };

  const sameTags = (a: readonly string[], b: readonly string[]) =>
    a.length === b.length && a.every((t, i) => t === b[i]);

  return {
    name: 'redis',

    async ready() {
      await client();
    },

    async get(key, hint) {
      const r = await client();
      const hintTags = hint?.tags ?? [];
      let res: (Buffer | null)[];
      try {
        res = (await r.callBuffer('MGET', E(key), K(key), ...hintTags.map(T))) as (Buffer | null)[];
      } catch (err) {
        throw cacheError('Redis cache get failed', err);
      }
      const raw = res[0];
      if (!raw) return undefined;
      const unpacked = unpackEntry(raw);
      if (!unpacked) return undefined;
      const { entry, meta } = unpacked;
      if (res[1]?.toString() !== meta.k) return undefined;
      const current = new Map<string, string | undefined>();
      for (let i = 0; i < hintTags.length; i++) current.set(hintTags[i]!, res[i + 2]?.toString());
      const missing = meta.t.filter((t) => !current.has(t));
      if (missing.length > 0) {
        try {
          const more = (await r.call('MGET', ...missing.map(T))) as (string | null)[];
          for (let i = 0; i < missing.length; i++) current.set(missing[i]!, more[i] ?? undefined);
        } catch (err) {
          throw cacheError('Redis cache get failed', err);
        }
      }
      for (let i = 0; i < meta.t.length; i++) if (current.get(meta.t[i]!) !== meta.v[i]) return undefined;
      return entry;
    },

    snapshot,

    async set(key, entry: CacheEntry, opts: CacheSetOptions) {
      const tags = [...new Set(opts.tags ?? [])];
      const lifetime = Math.max(1, Math.ceil(opts.ttlMs + Math.max(0, opts.graceMs ?? 0)));
      let token = opts.snapshot as Token | undefined;
      if (!token || token.key !== key || !Array.isArray(token.versions) || !sameTags(token.tags, tags)) {
        token = await snapshot(key, tags, lifetime);
      }
      const [kv, ...tv] = token.versions;
      const packed = packEntry(entry, {
        s: entry.storedAt,
        x: entry.expiresAt,
        c: entry.compressed ? 1 : 0,
        t: tags,
        v: tv,
        k: kv!,
        ...(entry.origin ? { o: entry.origin } : {}),
      });
      const r = await client();
      try {
        const ok = await script(r, SET_SCRIPT, [E(key), K(key), ...tags.map(T)], [lifetime, packed, ...token.versions]);
        if (Number(ok) !== 1) opts.onDropped?.();
      } catch (err) {
        throw cacheError('Redis cache set failed', err);
      }
    },

    async invalidate(c: InvalidationCriteria) {
      const keys = c.keys ?? [];
      const tags = c.tags ?? [];
      if (keys.length === 0 && tags.length === 0) return 0;
      const r = await client();
      const p = r.pipeline();
      for (const k of keys) {
        p.call('SET', K(k), fresh(), 'XX', 'KEEPTTL');
        p.call('UNLINK', E(k));
      }
      for (const t of tags) p.call('SET', T(t), fresh(), 'XX', 'KEEPTTL');
      let results: [Error | null, unknown][];
      try {
        results = (await p.exec()) as [Error | null, unknown][];
      } catch (err) {
        throw cacheError('Redis cache invalidate failed', err);
      }
      let n = 0;
      for (const [err, v] of results) {
        if (err) throw cacheError('Redis cache invalidate failed', err);
        if (v === 'OK') n++;
      }
      return n;
    },

    async clear() {
      const r = await client();
      const pattern = `${ns.replace(/[*?[\]\\]/g, '\\$&')}:*`;
      const nodes = typeof r.nodes === 'function' ? r.nodes('master') : [r];
      try {
        for (const node of nodes) {
          let cursor = '0';
          do {
            const [next, found] = (await node.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', 500)) as [
              string,
              string[],
            ];
            cursor = next;
            if (found.length > 0) await node.call('UNLINK', ...found);
          } while (cursor !== '0');
        }
      } catch (err) {
        throw cacheError('Redis cache clear failed', err);
      }
    },

    async close() {
      if (closed) return;
      closed = true;
      if (!ownsClient || !clientPromise) return;
      const r = await clientPromise.catch(() => undefined);
      if (!r) return;
      try {
        await r.quit?.();
      } catch {
        r.disconnect?.();
      }
    },
  };
}
