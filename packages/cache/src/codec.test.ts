import { describe, expect, it } from 'vitest';
import { decodeValue, encodeValue } from './codec.js';

const sample = () => ({
  command: 'SELECT',
  rowCount: 2,
  oid: null,
  rows: [
    {
      id: '9007199254740993',
      big: 12345678901234567890n,
      at: new Date('2024-02-29T12:34:56.789Z'),
      bytes: Buffer.from([0, 1, 2, 255]),
      nothing: null,
      missing: undefined,
      doc: { a: [1, { b: 'c' }], n: null, s: 'é' },
    },
    { id: '2', big: -1n, at: new Date(0), bytes: Buffer.alloc(0), nothing: null, missing: undefined, doc: [] },
  ],
  fields: [{ name: 'id', dataTypeID: 20, tableID: 1, format: 'text' }],
  _parsers: [() => 1],
  _types: { getTypeParser: () => () => 1 },
  RowCtor: null,
});

describe('codec', () => {
  it('round-trips a pg result: Date, bigint, Buffer, null vs undefined, nested JSON', () => {
    const enc = encodeValue(sample());
    const out = decodeValue<ReturnType<typeof sample>>(enc.bytes, enc.compressed);
    const want = sample();
    expect(out.rows).toEqual(want.rows);
    const r0 = out.rows[0]!;
    expect(r0.at).toBeInstanceOf(Date);
    expect(r0.at.getTime()).toBe(want.rows[0]!.at.getTime());
    expect(typeof r0.big).toBe('bigint');
    expect(Buffer.isBuffer(r0.bytes)).toBe(true);
    expect([...r0.bytes]).toEqual([0, 1, 2, 255]);
    expect(r0.nothing).toBeNull();
    expect('missing' in r0 && r0.missing === undefined).toBe(true);
    expect(out.command).toBe('SELECT');
    expect(out.rowCount).toBe(2);
    expect(out.fields).toEqual(want.fields);
    expect('_parsers' in out).toBe(false);
  });

  it('compresses above the threshold with a real codec and round-trips', () => {
    const rows = Array.from({ length: 200 }, (_, i) => ({ id: i, name: `user ${i}`, email: `u${i}@example.com` }));
    const value = { command: 'SELECT', rowCount: rows.length, rows, fields: [] };
    const plain = encodeValue(value);
    const z = encodeValue(value, { enableCompression: true, compressionThreshold: 1024 });
    expect(plain.compressed).toBe(false);
    expect(z.compressed).toBe(true);
    expect(z.bytes.length).toBeLessThan(plain.bytes.length / 3);
    expect(decodeValue(z.bytes, true)).toEqual(decodeValue(plain.bytes, false));
    // a Brotli stream is not a V8 payload: decoding it as plain must fail
    expect(() => decodeValue(z.bytes, false)).toThrow();
  });

  it('does not pin zlib output chunks: a compressed entry owns exactly its bytes', () => {
    const rows = Array.from({ length: 100 }, (_, i) => ({ id: i, name: `user ${i}` }));
    const z = encodeValue({ command: 'SELECT', rowCount: 100, rows, fields: [] }, { enableCompression: true });
    expect(z.compressed).toBe(true);
    expect(z.bytes.buffer.byteLength).toBe(z.bytes.length);
  });

  it('does not compress below the threshold', () => {
    const z = encodeValue({ rows: [], command: 'SELECT', rowCount: 0, fields: [] }, { enableCompression: true });
    expect(z.compressed).toBe(false);
  });

  it('rejects values it cannot serialise with CACHE_ERROR', () => {
    expect(() => encodeValue({ f: () => 1 })).toThrow(expect.objectContaining({ code: 'CACHE_ERROR' }));
  });

  it('reports corrupt bytes as CACHE_ERROR', () => {
    expect(() => decodeValue(Buffer.from('not a payload'), true)).toThrow(
      expect.objectContaining({ code: 'CACHE_ERROR' }),
    );
  });
});
