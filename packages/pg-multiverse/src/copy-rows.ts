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
  private escaped = false;
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
    let rowStart = 0;
    let i = this.scanned;
    const n = buf.length;
    while (i < n) {
      const c = buf[i]!;
      if (this.csv) {
        if (this.inQuotes) {
          if (
            c === this.esc &&
            this.esc !== this.quote &&
            i + 1 < n &&
            (buf[i + 1] === this.quote || buf[i + 1] === this.esc)
          ) {
            i += 2;
            continue;
          }
          if (c === this.esc && this.esc !== this.quote && i + 1 >= n) break; // need the next byte
          if (c === this.quote) this.inQuotes = false;
          i++;
          continue;
        }
        if (c === this.quote) {
          this.inQuotes = true;
          i++;
          continue;
        }
      } else if (this.escaped) {
        this.escaped = false;
        i++;
        continue;
      } else if (c === BACKSLASH) {
        this.escaped = true;
        i++;
        continue;
      }
      if (c === NL) {
        if (this.row(buf.subarray(rowStart, i + 1), onRow)) {
          this.finish();
          return;
        }
        rowStart = i + 1;
      }
      i++;
    }
    this.carry = rowStart < n ? buf.subarray(rowStart) : undefined;
    this.scanned = i - rowStart;
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
    if (rest && rest.length > 0) this.row(Buffer.concat([rest, Buffer.from('\n')]), onRow);
  }

  private finish(): void {
    this.ended = true;
    this.carry = undefined;
  }

  /** One complete row (with its `\n`). True at the end-of-data marker `\.`. */
  private row(row: Buffer, onRow: RowHandler): boolean {
    this.line++;
    let end = row.length - 1; // the \n
    if (end > 0 && row[end - 1] === CR) end--;
    if (end === 2 && row[0] === BACKSLASH && row[1] === 0x2e) return true; // \.
    if (this.headerLeft) {
      this.headerLeft = false;
      return false;
    }
    if (end === 0 && !this.csv) {
      throw new PgmError('INVALID_ARGUMENT', `copyFrom: line ${this.line} is empty (text format has no empty rows)`);
    }
    onRow(row, this.csv ? this.csvField(row, end) : this.textField(row, end), this.line);
    return false;
  }

  private missing(): never {
    throw new PgmError(
      'INVALID_ARGUMENT',
      `copyFrom: line ${this.line} has fewer than ${this.keyIndex + 1} columns (the shard key is column ${this.keyIndex + 1})`,
    );
  }

  private textField(row: Buffer, end: number): string | null {
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
