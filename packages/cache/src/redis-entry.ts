import type { CacheEntry, ResultOrigin } from '@pg-multiverse/core';

/** Metadata stored in front of the payload of a Redis entry. */
export interface RedisEntryMeta {
  /** storedAt */
  s: number;
  /** expiresAt */
  x: number;
  /** compressed */
  c: 0 | 1;
  /** tags */
  t: string[];
  /** versions of the tags, aligned with `t` */
  v: string[];
  /** version of the key */
  k: string;
  /** origin (where the result was read), when known */
  o?: ResultOrigin;
}

const FORMAT = 1;

/** [format u8][meta length u32be][meta JSON][payload] */
export function packEntry(entry: CacheEntry, meta: RedisEntryMeta): Buffer {
  const m = Buffer.from(JSON.stringify(meta));
  const payload = typeof entry.value === 'string' ? Buffer.from(entry.value) : entry.value;
  const out = Buffer.allocUnsafe(5 + m.length + payload.length);
  out[0] = FORMAT;
  out.writeUInt32BE(m.length, 1);
  m.copy(out, 5);
  out.set(payload, 5 + m.length);
  return out;
}

export function unpackEntry(buf: Buffer): { entry: CacheEntry; meta: RedisEntryMeta } | undefined {
  if (buf.length < 5 || buf[0] !== FORMAT) return undefined;
  const len = buf.readUInt32BE(1);
  if (5 + len > buf.length) return undefined;
  let meta: RedisEntryMeta;
  try {
    meta = JSON.parse(buf.subarray(5, 5 + len).toString('utf8')) as RedisEntryMeta;
  } catch {
    return undefined;
  }
  const entry: CacheEntry = {
    value: buf.subarray(5 + len),
    storedAt: meta.s,
    expiresAt: meta.x,
    tags: meta.t,
    compressed: meta.c === 1,
  };
  if (meta.o) entry.origin = meta.o;
  return { entry, meta };
}
