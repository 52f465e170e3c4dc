import { AsyncLocalStorage } from 'node:async_hooks';
import { PgmError } from '@pg-multiverse/core';
import { formatLsn, parseLsn } from './lsn.js';

const BRAND = Symbol.for('pg-multiverse.session-token');

/**
 * A read-your-writes token: the WAL position of the caller's last write per
 * cluster (per shard on sharded clusters). Mutable: writes made with it
 * advance it. Pass it around (`{ sessionToken }`), or serialise it with
 * `String(token)` / `parseSessionToken(text)` to carry it across processes.
 */
export interface SessionToken {
  readonly [BRAND]: true;
  /** Group key (`clusterId` or `clusterId#shardId`) -> LSN. */
  readonly positions: Map<string, bigint>;
  /** `users_cluster=0/3000060;orders_cluster#shard-1=0/1A2B3C`. */
  toString(): string;
}

export function createSessionToken(): SessionToken {
  const positions = new Map<string, bigint>();
  return {
    [BRAND]: true,
    positions,
    toString() {
      return [...positions].map(([k, v]) => `${k}=${formatLsn(v)}`).join(';');
    },
  };
}

export function isSessionToken(v: unknown): v is SessionToken {
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[BRAND] === true;
}

/** Rebuild a token from `String(token)`. */
export function parseSessionToken(text: string): SessionToken {
  const t = createSessionToken();
  if (!text) return t;
  for (const part of text.split(';')) {
    const eq = part.lastIndexOf('=');
    const lsn = eq > 0 ? parseLsn(part.slice(eq + 1)) : undefined;
    if (lsn === undefined) throw new PgmError('INVALID_ARGUMENT', `Not a session token: ${JSON.stringify(text)}`);
    t.positions.set(part.slice(0, eq), lsn);
  }
  return t;
}

/**
 * Position recorded when a write committed but its WAL position could not be
 * read (the primary became unreachable right after the commit). Reads of the
 * session on that cluster first ask the primary for its current position,
 * which includes the write, and continue from there.
 */
export const UNKNOWN_POSITION = 0xffffffffffffffffn;

/** Remember `lsn` for `key` (never moves backwards). */
export function advanceToken(token: SessionToken, key: string, lsn: bigint): void {
  const prev = token.positions.get(key);
  if (prev === undefined || lsn > prev) token.positions.set(key, lsn);
}

const storage = new AsyncLocalStorage<SessionToken>();

/** The token of the enclosing `runWithSession`, if any. */
export function currentSession(): SessionToken | undefined {
  return storage.getStore();
}

/** Run `fn` with `token` as the ambient session (reads and writes inside use it). */
export function runWithSessionToken<T>(token: SessionToken, fn: () => T): T {
  return storage.run(token, fn);
}
