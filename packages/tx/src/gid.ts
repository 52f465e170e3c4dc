import { randomBytes } from 'node:crypto';
import { PgmError } from '@pg-multiverse/core';

/** Every global transaction id we create starts with this prefix. */
export const GID_PREFIX = 'pgm';
/** PostgreSQL limits a prepared transaction's identifier to 200 bytes. */
export const MAX_GID_BYTES = 199;

const OWNER_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const TXID_RE = /^[a-z0-9]+-[a-z0-9]+$/;

/** The parts of a global transaction id `pgm:<ownerId>:<txid>:<clusterId>`. */
export interface ParsedGid {
  ownerId: string;
  txid: string;
  clusterId: string;
}

/** Throws unless `ownerId` is 1-64 characters of `[A-Za-z0-9_.-]`. */
export function assertOwnerId(ownerId: string): void {
  if (!OWNER_RE.test(ownerId)) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `tx: ownerId must be 1-64 characters of [A-Za-z0-9_.-], got ${JSON.stringify(ownerId)}`,
    );
  }
}

/** Turn any cluster id into a valid owner id (used for the default owner id). */
export function toOwnerId(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64);
  return cleaned.length > 0 ? cleaned : 'default';
}

/** A new transaction id: time (base 36) and 64 random bits, e.g. `m1x2y3z4-0a1b2c3d4e5f6g7h`. Unique across processes. */
export function newTxid(): string {
  return `${Date.now().toString(36)}-${BigInt(`0x${randomBytes(8).toString('hex')}`).toString(36)}`;
}

/** The global id of one participant's prepared transaction. */
export function formatGid(ownerId: string, txid: string, clusterId: string): string {
  assertOwnerId(ownerId);
  if (!TXID_RE.test(txid))
    throw new PgmError('INVALID_ARGUMENT', `tx: malformed transaction id ${JSON.stringify(txid)}`);
  const gid = `${GID_PREFIX}:${ownerId}:${txid}:${clusterId}`;
  if (Buffer.byteLength(gid, 'utf8') > MAX_GID_BYTES) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `tx: global transaction id for cluster ${JSON.stringify(clusterId)} would exceed ${MAX_GID_BYTES} bytes; use shorter cluster or owner ids`,
      { clusterId },
    );
  }
  return gid;
}

/** The prefix shared by every gid of one owner; recovery only looks at these. */
export function ownerPrefix(ownerId: string): string {
  assertOwnerId(ownerId);
  return `${GID_PREFIX}:${ownerId}:`;
}

/** Parse a gid made by `formatGid`; `undefined` for anything else (other owners' prepared transactions). */
export function parseGid(gid: string): ParsedGid | undefined {
  if (!gid.startsWith(`${GID_PREFIX}:`)) return undefined;
  const rest = gid.slice(GID_PREFIX.length + 1);
  const a = rest.indexOf(':');
  if (a < 0) return undefined;
  const b = rest.indexOf(':', a + 1);
  if (b < 0) return undefined;
  const ownerId = rest.slice(0, a);
  const txid = rest.slice(a + 1, b);
  const clusterId = rest.slice(b + 1);
  if (!OWNER_RE.test(ownerId) || !TXID_RE.test(txid) || clusterId.length === 0) return undefined;
  return { ownerId, txid, clusterId };
}
