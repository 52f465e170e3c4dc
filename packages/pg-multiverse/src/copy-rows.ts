import { PgmError } from '@pg-multiverse/core';

/**
 * Splits `COPY ... FROM STDIN` data (text or CSV format, as PostgreSQL reads it)
 * into rows, and reads one column of each: the shard key. Rows are handed on
 * as the exact bytes received, so each shard's server parses them itself.
 * Hand-written rather than a CSV library: what is needed is the raw bytes of
 * each row and one decoded field, at stream speed, for both formats.
 */

export interface CopyFormat {
  /** `text` (PostgreSQL's default) or `csv`. */
  format: 'text' | 'csv';
  /** One single-byte character. Default tab (text) or comma (csv). */
  delimiter: string;
  /** The string that means NULL. Default `\N` (text) or an unquoted empty field (csv). */
  null: string;
  /** CSV: quote character (default `"`). */
  quote: string;
  /** CSV: escape character inside quotes (default: the quote). */
  escape: string;
  /** CSV: the first line is a header (skipped, not sent to the shards). */
  header: boolean;
}

const NL = 0x0a;

/** Index of the first `a` or `b` in `buf` from `from`, or -1. */
function nextOf(buf: Buffer, from: number, a: number, b: number): number {
  for (let i = from; i < buf.length; i++) {
    const c = buf[i];
    if (c === a || c === b) return i;
  }
  return -1;
}
const CR = 0x0d;
const BACKSLASH = 0x5c;

function byteOf(name: string, ch: string): number {
  const b = Buffer.from(ch, 'utf8');
  if (b.length !== 1) {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `copyFrom: ${name} must be one single-byte character, got ${JSON.stringify(ch)}`,
    );
  }
  return b[0]!;
}

/** A row's bytes (terminator included) and its key field decoded (`null` for SQL NULL). */
export type RowHandler = (row: Buffer, key: string | null, line: number) => void;

export class CopyRowSplitter {
  private carry: Buffer | undefined;
  /** Where scanning resumes in `carry + chunk` (state below holds up to there). */
  private scanned = 0;
  private inQuotes = false;
  private line = 0;
  private headerLeft: boolean;
  private ended = false;
  private readonly delim: number;
  private readonly quote: number;
  private readonly esc: number;
  private readonly nullText: Buffer;
  private readonly csv: boolean;

  constructor(
    fmt: CopyFormat,
    private readonly keyIndex: number,
  ) {
    this.csv = fmt.format === 'csv';
    this.delim = byteOf('delimiter', fmt.delimiter);
    this.quote = this.csv ? byteOf('quote', fmt.quote) : 0;
    this.esc = this.csv ? byteOf('escape', fmt.escape) : 0;
    this.nullText = Buffer.from(fmt.null, 'utf8');
    this.headerLeft = this.csv && fmt.header;
  }

  /** Feed one chunk; `onRow` is called for every row it completes. */
  push(chunk: Buffer, onRow: RowHandler): void {
    if (this.ended) return;
    const buf = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    const stop = this.csv ? this.scanCsv(buf, onRow) : this.scanText(buf, onRow);
    if (stop < 0) {
      this.finish();
      return;
    }
    this.carry = stop < buf.length ? buf.subarray(stop) : undefined;
    this.scanned = this.carry ? this.carry.length : 0;
  }

  /**
   * Text rows end at a newline not escaped by a backslash: one preceded by an even run of
   * backslashes (each backslash escapes the next byte). Returns where the unfinished row starts
   * (-1 at the end-of-data marker).
   */
  private scanText(buf: Buffer, onRow: RowHandler): number {
    let rowStart = 0;
    let from = Math.max(this.scanned, 0);
    for (;;) {
      const nl = buf.indexOf(NL, from);
      if (nl < 0) return rowStart;
      let k = nl - 1;
      while (k >= rowStart && buf[k] === BACKSLASH) k--;
      if ((nl - 1 - k) % 2 === 1) {
        from = nl + 1; // an escaped newline: data
        continue;
      }
      if (this.row(buf, rowStart, nl + 1, onRow)) return -1;
      rowStart = nl + 1;
      from = rowStart;
    }
  }

  /** CSV rows end at a newline outside quotes; the quote state is carried across chunks. */
  private scanCsv(buf: Buffer, onRow: RowHandler): number {
    let rowStart = 0;
    let i = Math.max(this.scanned, 0);
    const n = buf.length;
    while (i < n) {
      if (this.inQuotes) {
        const q = this.esc === this.quote ? buf.indexOf(this.quote, i) : nextOf(buf, i, this.quote, this.esc);
        if (q < 0) {
          i = n;
          break;
        }
        if (buf[q] === this.esc && this.esc !== this.quote) {
          if (q + 1 >= n) {
            i = q; // need the next byte
            break;
          }
          i = q + 2;
          continue;
        }
        this.inQuotes = false;
        i = q + 1;
        continue;
      }
      const next = nextOf(buf, i, NL, this.quote);
      if (next < 0) {
        i = n;
        break;
      }
      if (buf[next] === this.quote) {
        this.inQuotes = true;
        i = next + 1;
        continue;
      }
      if (this.row(buf, rowStart, next + 1, onRow)) return -1;
      rowStart = next + 1;
      i = rowStart;
    }
    this.scanned = i - rowStart;
    return rowStart;
  }

  /** The input ended: the last row may lack its newline. */
  end(onRow: RowHandler): void {
    if (this.ended) return;
    const rest = this.carry;
    this.finish();
    if (this.csv && this.inQuotes) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `copyFrom: line ${this.line + 1}: unterminated CSV quoted field at the end of the data`,
      );
    }
    if (rest && rest.length > 0) {
      const last = Buffer.concat([rest, Buffer.from('\n')]);
      this.row(last, 0, last.length, onRow);
    }
  }

  private finish(): void {
    this.ended = true;
    this.carry = undefined;
  }

  /** One complete row `buf[start, end)` (with its `\n`). True at the end-of-data marker `\.`. */
  private row(buf: Buffer, start: number, end: number, onRow: RowHandler): boolean {
    this.line++;
    let last = end - 1; // the \n
    if (last > start && buf[last - 1] === CR) last--;
    if (last - start === 2 && buf[start] === BACKSLASH && buf[start + 1] === 0x2e) return true; // \.
    if (this.headerLeft) {
      this.headerLeft = false;
      return false;
    }
    if (last === start && !this.csv) {
      throw new PgmError('INVALID_ARGUMENT', `copyFrom: line ${this.line} is empty (text format has no empty rows)`);
    }
    const row = buf.subarray(start, end);
    onRow(row, this.csv ? this.csvField(row, last - start) : this.textField(row, last - start), this.line);
    return false;
  }

  private missing(): never {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `copyFrom: line ${this.line} has fewer than ${this.keyIndex + 1} columns (the shard key is column ${this.keyIndex + 1})`,
    );
  }

  private textField(row: Buffer, end: number): string | null {
    const bs = row.indexOf(BACKSLASH);
    if (bs < 0 || bs >= end) {
      // no escapes: fields are plain delimiter-separated slices
      let start = 0;
      for (let f = 0; f < this.keyIndex; f++) {
        const d = row.indexOf(this.delim, start);
        if (d < 0 || d >= end) this.missing();
        start = d + 1;
      }
      let stop = row.indexOf(this.delim, start);
      if (stop < 0 || stop > end) stop = end;
      const nt = this.nullText;
      if (stop - start === nt.length && nt.compare(row, start, stop) === 0) return null;
      return row.toString('utf8', start, stop);
    }
    let field = 0;
    let start = 0;
    let i = 0;
    for (; i < end; i++) {
      const c = row[i]!;
      if (c === BACKSLASH) {
        i++;
        continue;
      }
      if (c === this.delim) {
        if (field === this.keyIndex) break;
        field++;
        start = i + 1;
      }
    }
    if (field !== this.keyIndex) this.missing();
    const raw = row.subarray(start, Math.min(i, end));
    if (raw.equals(this.nullText)) return null;
    return decodeTextField(raw);
  }

  private csvField(row: Buffer, end: number): string | null {
    let field = 0;
    let i = 0;
    for (;;) {
      const start = i;
      let quoted = false;
      const parts: Buffer[] = [];
      let from = i;
      // one field
      while (i < end) {
        const c = row[i]!;
        if (quoted) {
          if (
            c === this.esc &&
            i + 1 < end &&
            (row[i + 1] === this.quote || row[i + 1] === this.esc) &&
            (this.esc !== this.quote || row[i + 1] === this.quote)
          ) {
            parts.push(row.subarray(from, i));
            from = i + 1;
            i += 2;
            continue;
          }
          if (c === this.quote) {
            parts.push(row.subarray(from, i));
            quoted = false;
            from = i + 1;
          }
          i++;
          continue;
        }
        if (c === this.quote) {
          parts.push(row.subarray(from, i));
          quoted = true;
          from = i + 1;
          i++;
          continue;
        }
        if (c === this.delim) break;
        i++;
      }
      if (field === this.keyIndex) {
        parts.push(row.subarray(from, i));
        const whole = row.subarray(start, i);
        // NULL is the null string unquoted (a quoted empty string is an empty string).
        if (!whole.includes(this.quote) && whole.equals(this.nullText)) return null;
        return Buffer.concat(parts).toString('utf8');
      }
      if (i >= end) this.missing();
      field++;
      i++; // past the delimiter
    }
  }
}

const SIMPLE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/** Undo text-format escapes (`\t`, `\\`, octal `\123`, hex `\x41`). */
export function decodeTextField(raw: Buffer): string {
  if (!raw.includes(BACKSLASH)) return raw.toString('utf8');
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== BACKSLASH || i + 1 >= raw.length) {
      out.push(c);
      continue;
    }
    const next = String.fromCharCode(raw[++i]!);
    if (next in SIMPLE) out.push(SIMPLE[next]!.charCodeAt(0));
    else if (next >= '0' && next <= '7') {
      let v = Number(next);
      for (let k = 0; k < 2 && i + 1 < raw.length && raw[i + 1]! >= 0x30 && raw[i + 1]! <= 0x37; k++)
        v = v * 8 + (raw[++i]! - 0x30);
      out.push(v & 0xff);
    } else if (next === 'x' && i + 1 < raw.length && /[0-9a-fA-F]/.test(String.fromCharCode(raw[i + 1]!))) {
      let v = Number.parseInt(String.fromCharCode(raw[++i]!), 16);
      if (i + 1 < raw.length && /[0-9a-fA-F]/.test(String.fromCharCode(raw[i + 1]!))) {
        v = v * 16 + Number.parseInt(String.fromCharCode(raw[++i]!), 16);
      }
      out.push(v);
    } else out.push(raw[i]!);
  }
  return Buffer.from(out).toString('utf8');
}
