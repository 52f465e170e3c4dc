/**
 * Deep copy of a decoded cache value (plain objects, arrays, Date, Buffer and
 * typed arrays, Map, Set, primitives), so a hit can hand out a private copy of
 * a value decoded once. Much cheaper than decoding again for row objects.
 * Anything else (class instances) is copied with structuredClone.
 */
export function fastClone<T>(v: T): T {
  return clone(v, 0) as T;
}

function clone(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (depth > 200) return structuredClone(v);
  if (Array.isArray(v)) {
    const out = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = clone(v[i], depth + 1);
    return out;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = proto === null ? Object.create(null) : {};
    for (const k in v as Record<string, unknown>) {
      const x = clone((v as Record<string, unknown>)[k], depth + 1);
      // An own "__proto__" key (a JSON column can have one) must stay a key, not become the prototype.
      if (k === '__proto__')
        Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
      else out[k] = x;
    }
    return out;
  }
  if (v instanceof Date) return new Date(v.getTime());
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return (v as unknown as { slice(): unknown }).slice();
  if (v instanceof Map) return new Map([...v].map(([k, x]) => [clone(k, depth + 1), clone(x, depth + 1)]));
  if (v instanceof Set) return new Set([...v].map((x) => clone(x, depth + 1)));
  return structuredClone(v);
}
