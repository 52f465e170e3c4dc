/**
 * Where a read result came from, recorded when it is read so that a later
 * request (a cache hit, a merged in-flight load) can tell whether the result
 * is fresh enough for it.
 */
export interface ResultOrigin {
  /** `primary`: read on a server not in recovery; `replica`: on a standby, possibly behind. */
  role: 'primary' | 'replica';
  /**
   * WAL position (`X/Y`) the result is known to include, read on the same
   * session just before the statement: the primary's insert position, or the
   * replica's replay position. Absent when not known.
   */
  lsn?: string;
  /** Replication lag known for the node when it was read, ms (0 on a primary; absent when unknown). */
  lagMs?: number;
  /** Wall-clock ms at or before the read (the cache sets it to when its load started). Needed by `bounded`. */
  at?: number;
}

/**
 * What a read needs of a result it did not read itself. One rule for the
 * whole library: the router derives it from a read's consistency level,
 * role, read preference and session token; the cache applies it to entries
 * and in-flight loads.
 *
 * - `any`: eventual reads (and `session` reads with nothing written yet).
 * - `primary`: `strong` reads, `role: 'primary'`, read preference `primary`.
 * - `session`: read-your-writes: at or past `minLsn` (`X/Y`) on this cluster or shard.
 * - `bounded`: no older than `maxLagMs` (its age plus the replica's lag when read).
 */
export type Freshness =
  | { readonly level: 'any' }
  | { readonly level: 'primary' }
  | { readonly level: 'session'; readonly minLsn: string }
  | { readonly level: 'bounded'; readonly maxLagMs: number };

export const ANY_FRESHNESS: Freshness = Object.freeze({ level: 'any' });

/** `X/Y` WAL position as a bigint; undefined when not one. */
export function lsnToBigInt(text: string | null | undefined): bigint | undefined {
  if (!text) return undefined;
  const slash = text.indexOf('/');
  if (slash <= 0) return undefined;
  const hi = Number.parseInt(text.slice(0, slash), 16);
  const lo = Number.parseInt(text.slice(slash + 1), 16);
  if (!Number.isFinite(hi) || !Number.isFinite(lo)) return undefined;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** A bigint WAL position as `X/Y` (upper-case hex, as PostgreSQL prints it). */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

/**
 * Whether a result with `origin` may answer a request needing `need` at
 * `now` (wall-clock ms). A result of unknown origin satisfies only `any`.
 */
export function satisfiesFreshness(origin: ResultOrigin | undefined, need: Freshness, now: number): boolean {
  switch (need.level) {
    case 'any':
      return true;
    case 'primary':
      return origin?.role === 'primary';
    case 'session': {
      if (origin?.lsn === undefined) return false;
      const have = lsnToBigInt(origin.lsn);
      const want = lsnToBigInt(need.minLsn);
      return have !== undefined && want !== undefined && have >= want;
    }
    case 'bounded': {
      if (origin?.at === undefined) return false;
      const lag = origin.role === 'primary' ? 0 : origin.lagMs;
      return lag !== undefined && Math.max(0, now - origin.at) + lag <= need.maxLagMs;
    }
  }
}

/**
 * Whether every result that a load started for `loading` can return also
 * satisfies `need`, so a request needing `need` may wait for that load
 * instead of starting its own (single-flight merging).
 */
export function freshnessCovers(loading: Freshness, need: Freshness): boolean {
  if (need.level === 'any') return true;
  if (loading.level === 'primary') return true;
  if (need.level === 'primary') return false;
  if (need.level === 'session') {
    if (loading.level !== 'session') return false;
    const have = lsnToBigInt(loading.minLsn);
    const want = lsnToBigInt(need.minLsn);
    return have !== undefined && want !== undefined && have >= want;
  }
  return loading.level === 'bounded' && loading.maxLagMs <= need.maxLagMs;
}
