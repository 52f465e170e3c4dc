import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CopyFormat, CopyRowSplitter, decodeTextField } from './copy-rows.js';

const TEXT: CopyFormat = { format: 'text', delimiter: '\t', null: '\\N', quote: '"', escape: '"', header: false };
const CSV: CopyFormat = { format: 'csv', delimiter: ',', null: '', quote: '"', escape: '"', header: false };

/** Every row and key, feeding `data` in chunks cut at `cuts`. */
function split(fmt: CopyFormat, key: number, data: string, cuts: number[] = []): Array<[string, string | null]> {
  const s = new CopyRowSplitter(fmt, key);
  const out: Array<[string, string | null]> = [];
  const on = (row: Buffer, k: string | null) => out.push([row.toString('utf8'), k]);
  const buf = Buffer.from(data, 'utf8');
  let at = 0;
  for (const c of [...cuts.filter((x) => x > 0 && x < buf.length)].sort((a, b) => a - b)) {
    s.push(buf.subarray(at, c), on);
    at = c;
  }
  s.push(buf.subarray(at), on);
  s.end(on);
  return out;
}

describe('CopyRowSplitter', () => {
  it('text format: rows, escapes, NULL and the end marker', () => {
    expect(split(TEXT, 1, 'a\t1\nb\\tc\t2\\n3\nc\t\\N\r\nd\\\n\t4\n\\.\nignored\t9\n')).toEqual([
      ['a\t1\n', '1'],
      ['b\\tc\t2\\n3\n', '2\n3'],
      ['c\t\\N\r\n', null],
      ['d\\\n\t4\n', '4'],
    ]);
    expect(split(TEXT, 0, 'x\\101\\x42\ty')).toEqual([['x\\101\\x42\ty\n', 'xAB']]);
    expect(split({ ...TEXT, null: 'NULL' }, 1, 'a\tNULL\nb\tNULLx\n').map(([, k]) => k)).toEqual([null, 'NULLx']);
  });

  it('csv: quotes, doubled quotes, newlines inside quotes, NULL vs empty string, header', () => {
    expect(split({ ...CSV, header: true }, 1, 'id,key\n1,"a,""b"""\n2,"multi\nline"\n3,\n4,""\n')).toEqual([
      ['1,"a,""b"""\n', 'a,"b"'],
      ['2,"multi\nline"\n', 'multi\nline'],
      ['3,\n', null],
      ['4,""\n', ''],
    ]);
    expect(split({ ...CSV, escape: '\\' }, 0, '"a\\"b",x\n')).toEqual([['"a\\"b",x\n', 'a"b']]);
  });

  it('refuses rows without the key column, and unterminated quotes', () => {
    expect(() => split(TEXT, 2, 'a\tb\n')).toThrow(/line 1 has fewer than 3 columns/);
    expect(() => split(CSV, 0, '"open\n')).toThrow(/unterminated CSV/);
  });

  it('any chunking gives the same rows (fast-check)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string(), fc.oneof(fc.string(), fc.constant(null))), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(200), { maxLength: 6 }),
        (rows, cuts) => {
          const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
          const csv = rows.map(([a, k]) => `${q(a)},${k === null ? '' : q(k)}\n`).join('');
          expect(split(CSV, 1, csv, cuts).map(([, k]) => k)).toEqual(rows.map(([, k]) => k));
          const esc = (s: string) =>
            s.replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
          const text = rows.map(([a, k]) => `${esc(a)}\t${k === null ? '\\N' : esc(k)}\n`).join('');
          const got = split(TEXT, 1, text, cuts);
          expect(got.map(([, k]) => k)).toEqual(rows.map(([, k]) => k));
          expect(got.map(([r]) => r).join('')).toBe(text);
        },
      ),
    );
  });

  it('decodeTextField', () => {
    expect(decodeTextField(Buffer.from('a\\\\b\\r\\q'))).toBe('a\\b\rq');
  });
});
