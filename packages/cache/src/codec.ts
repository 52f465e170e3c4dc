import { deserialize, serialize } from 'node:v8';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { PgmError } from '@pg-multiverse/core';

/** Options for `encodeValue`. */
export interface CodecOptions {
  /** Compress payloads larger than `compressionThreshold` bytes. Default false. */
  enableCompression?: boolean;
  /** Bytes. Default 1024. */
  compressionThreshold?: number;
}

export interface EncodedValue {
  bytes: Buffer;
  compressed: boolean;
}

// Brotli at quality 4: about 15x smaller than the raw v8 payload of a typical
// 100-row result, decompresses in ~30 us (measured; see README "Serialisation").
const BROTLI_OPTIONS = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } };

/**
 * The cacheable part of a value. A pg `Result` carries parser functions
 * (`_parsers`, `_types`) that cannot be serialised and must not be cached:
 * keep command, rowCount, oid, rows, fields (and rowAsArray when set).
 */
function cacheable(value: unknown): unknown {
  if (value && typeof value === 'object' && Array.isArray((value as { rows?: unknown }).rows)) {
    const r = value as Record<string, unknown>;
    if (typeof r.command === 'string' || '_parsers' in r || 'fields' in r) {
      const out: Record<string, unknown> = { command: r.command, rowCount: r.rowCount, rows: r.rows };
      if ('oid' in r) out.oid = r.oid;
      out.fields = Array.isArray(r.fields) ? r.fields.map((f) => ({ ...(f as object) })) : [];
      if (r.rowAsArray) out.rowAsArray = true;
      return out;
    }
  }
  return value;
}

/**
 * Serialise with the V8 structured-clone format (round-trips Date, bigint,
 * Buffer, typed arrays, Map/Set, null vs undefined, nested objects), then
 * compress with Brotli when enabled and the payload exceeds the threshold
 * and compression actually shrinks it.
 */
export function encodeValue(value: unknown, options: CodecOptions = {}): EncodedValue {
  let bytes: Buffer;
  try {
    bytes = serialize(cacheable(value));
  } catch (cause) {
    throw new PgmError('CACHE_ERROR', 'Cannot serialise the value for the cache (functions or symbols inside?)', {
      cause,
    });
  }
  const threshold = options.compressionThreshold ?? 1024;
  if (options.enableCompression && bytes.length > threshold) {
    const z = brotliCompressSync(bytes, BROTLI_OPTIONS);
    // zlib may return a view into a larger chunk: copy, so a cached entry does not pin the whole chunk.
    if (z.length < bytes.length) return { bytes: z.buffer.byteLength > z.length ? exact(z) : z, compressed: true };
  }
  return { bytes, compressed: false };
}

function exact(b: Buffer): Buffer {
  const out = Buffer.alloc(b.length);
  b.copy(out);
  return out;
}

/** Inverse of `encodeValue`. */
export function decodeValue<T = unknown>(bytes: Uint8Array | string, compressed: boolean | undefined): T {
  try {
    const buf =
      typeof bytes === 'string'
        ? Buffer.from(bytes, 'base64')
        : Buffer.isBuffer(bytes)
          ? bytes
          : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return deserialize(compressed ? brotliDecompressSync(buf) : buf) as T;
  } catch (cause) {
    throw new PgmError('CACHE_ERROR', 'Cannot decode a cached value (corrupt or written by an incompatible version)', {
      cause,
    });
  }
}
