/**
 * A PostgreSQL lexer: turns SQL text into tokens the way the server's own
 * scanner (src/backend/parser/scan.l) splits it, so analysis code never
 * mistakes a keyword inside a comment, a string, a dollar-quoted body or a
 * quoted identifier for a real one.
 *
 * Assumptions: `standard_conforming_strings = on` (the default since
 * PostgreSQL 9.1), so backslashes are literal in '...' and only escape in E'...'.
 * The lexer never throws: an unterminated string, identifier or comment
 * becomes a token (or comment) running to the end of the text with
 * `unterminated: true`, and characters PostgreSQL would reject become
 * `unknown` tokens. Callers decide what that means (the router routes such
 * text to the primary).
 */

export type SqlTokenType =
  /** An unquoted word: keyword or identifier (PostgreSQL decides by context). `value` is folded to lower case. */
  | 'word'
  /** A double-quoted identifier ("..." or U&"..."). `value` is the identifier exactly, escapes decoded. */
  | 'quoted_identifier'
  /** A string constant of any kind (see `stringKind`). `value` is the decoded content. */
  | 'string'
  /** A numeric constant. `value` is the source text without `_` separators. */
  | 'number'
  /** An operator (`=`, `<>`, `||`, `->>`, `@>`, ...). `!=` is normalised to `<>`. */
  | 'operator'
  /** `(` `)` `[` `]` `,` `;` `.` `:` and the cast `::`. */
  | 'punctuation'
  /** A positional parameter: `$1`. */
  | 'param'
  /** `-- line` or `/* block (nestable) *\/`, only returned with `{ comments: true }`. */
  | 'comment'
  /** A character PostgreSQL's scanner does not accept here (e.g. a lone `$` or `\``). */
  | 'unknown';

export type SqlStringKind =
  | 'standard' // '...'
  | 'escape' // E'...'
  | 'national' // N'...'
  | 'bit' // B'...'
  | 'hex' // X'...'
  | 'unicode' // U&'...'
  | 'dollar'; // $$...$$ / $tag$...$tag$

export interface SqlToken {
  type: SqlTokenType;
  /** Normalised value (see `SqlTokenType`). */
  value: string;
  /** The exact source text of the token. */
  text: string;
  /** Offset of the first character in the SQL text (UTF-16 code units, as `String#slice`). */
  start: number;
  /** Offset just past the last character. */
  end: number;
  /** For strings: which kind of literal. */
  stringKind?: SqlStringKind;
  /** For dollar-quoted strings: the tag (`''` for `$$`). */
  tag?: string;
  /** The literal, quoted identifier or block comment is not closed before the end of the text. */
  unterminated?: boolean;
}

export interface TokenizeOptions {
  /** Also return comment tokens. Default false (comments are skipped like whitespace). */
  comments?: boolean;
}

const OP_CHARS = '~!@#^&|`?+-*/%<>=';
const NON_MATH_OP = '~!@#^&|`?%';

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
/** identifier start: letters, underscore, any non-ASCII character. */
function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}
function isIdentCont(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === 36;
}
function isOpChar(c: number): boolean {
  return c < 128 && OP_CHARS.includes(String.fromCharCode(c));
}
function isHex(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}
/** PostgreSQL folds only ASCII letters of unquoted identifiers. */
function foldAscii(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** PostgreSQL truncates identifiers to NAMEDATALEN - 1 = 63 bytes (UTF-8), never splitting a character. */
function truncateIdentifier(id: string): string {
  if (id.length <= 15) return id; // at most 4 bytes per UTF-16 unit pair: cannot exceed 63 bytes
  let bytes = 0;
  let i = 0;
  for (const ch of id) {
    const cp = ch.codePointAt(0)!;
    const len = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + len > 63) return id.slice(0, i);
    bytes += len;
    i += ch.length;
  }
  return id;
}

/** Tokenize SQL text. Whitespace (and comments, unless asked for) are dropped. */
export function tokenizeSql(sql: string, options: TokenizeOptions = {}): SqlToken[] {
  const out: SqlToken[] = [];
  for (const t of iterateSqlTokens(sql)) {
    if (t.type === 'comment' && !options.comments) continue;
    out.push(t);
  }
  return out;
}

/** Lazily tokenize SQL text, comments included (filter them if unwanted). */
export function* iterateSqlTokens(sql: string): Generator<SqlToken> {
  const n = sql.length;
  let i = 0;

  const make = (type: SqlTokenType, start: number, end: number, value: string, extra?: Partial<SqlToken>): SqlToken => {
    const t: SqlToken = { type, value, text: sql.slice(start, end), start, end };
    return extra ? Object.assign(t, extra) : t;
  };

  /** Scan '...' content starting after the opening quote; handles '' and (for E strings) backslashes. */
  const scanQuoted = (from: number, backslash: boolean): { end: number; raw: string[]; closed: boolean } => {
    const parts: string[] = [];
    let j = from;
    let segStart = j;
    for (;;) {
      if (j >= n) {
        parts.push(sql.slice(segStart, j));
        return { end: j, raw: parts, closed: false };
      }
      const c = sql.charCodeAt(j);
      if (backslash && c === 92) {
        j += 2; // keep the escape for decoding later
        continue;
      }
      if (c === 39) {
        if (sql.charCodeAt(j + 1) === 39) {
          j += 2;
          continue;
        }
        parts.push(sql.slice(segStart, j));
        j++;
        // continuation: whitespace containing a newline (and -- comments), then another quote
        const k = continuationQuote(sql, j);
        if (k < 0) return { end: j, raw: parts, closed: true };
        j = k + 1;
        segStart = j;
        continue;
      }
      j++;
    }
  };

  while (i < n) {
    const c = sql.charCodeAt(i);
    const start = i;

    if (isSpace(c)) {
      i++;
      continue;
    }

    // -- line comment
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      let j = i + 2;
      while (j < n && sql.charCodeAt(j) !== 10 && sql.charCodeAt(j) !== 13) j++;
      yield make('comment', start, j, sql.slice(start + 2, j));
      i = j;
      continue;
    }

    // /* block comment */, nestable
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      const end = blockCommentEnd(sql, i);
      const closed = end > 0;
      const stop = closed ? end : n;
      yield make(
        'comment',
        start,
        stop,
        sql.slice(start + 2, closed ? stop - 2 : stop),
        closed ? undefined : { unterminated: true },
      );
      i = stop;
      continue;
    }

    // string literals with a prefix letter (only at the start of a word)
    if (isIdentStart(c)) {
      const c1 = sql.charCodeAt(i + 1);
      const lower = c | 32;
      if (c1 === 39 && (lower === 101 || lower === 98 || lower === 120 || lower === 110) && c < 128) {
        const kind: SqlStringKind =
          lower === 101 ? 'escape' : lower === 98 ? 'bit' : lower === 120 ? 'hex' : 'national';
        const r = scanQuoted(i + 2, kind === 'escape');
        const content = r.raw.map((p) => p.replace(/''/g, "'"));
        const value = kind === 'escape' ? decodeEscapeString(r.raw.join('')) : content.join('');
        yield make(
          'string',
          start,
          r.end,
          value,
          r.closed ? { stringKind: kind } : { stringKind: kind, unterminated: true },
        );
        i = r.end;
        continue;
      }
      if (lower === 117 && c1 === 38 && (sql.charCodeAt(i + 2) === 39 || sql.charCodeAt(i + 2) === 34)) {
        const isIdent = sql.charCodeAt(i + 2) === 34;
        let rawValue: string;
        let end: number;
        let closed: boolean;
        if (isIdent) {
          const r = scanIdent(sql, i + 3);
          rawValue = r.value;
          end = r.end;
          closed = r.closed;
        } else {
          const r = scanQuoted(i + 3, false);
          rawValue = r.raw.map((p) => p.replace(/''/g, "'")).join('');
          end = r.end;
          closed = r.closed;
        }
        let escChar = '\\';
        if (closed) {
          const ue = uescapeClause(sql, end);
          if (ue) {
            escChar = ue.char;
            end = ue.end;
          }
        }
        const decoded = decodeUnicodeEscapes(rawValue, escChar);
        const value = isIdent ? truncateIdentifier(decoded) : decoded;
        const extra: Partial<SqlToken> = isIdent ? {} : { stringKind: 'unicode' };
        if (!closed) extra.unterminated = true;
        yield make(isIdent ? 'quoted_identifier' : 'string', start, end, value, extra);
        i = end;
        continue;
      }
      let j = i + 1;
      while (j < n && isIdentCont(sql.charCodeAt(j))) j++;
      yield make('word', start, j, truncateIdentifier(foldAscii(sql.slice(i, j))));
      i = j;
      continue;
    }

    // 'standard string'
    if (c === 39) {
      const r = scanQuoted(i + 1, false);
      const value = r.raw.map((p) => p.replace(/''/g, "'")).join('');
      yield make(
        'string',
        start,
        r.end,
        value,
        r.closed ? { stringKind: 'standard' } : { stringKind: 'standard', unterminated: true },
      );
      i = r.end;
      continue;
    }

    // "quoted identifier"
    if (c === 34) {
      const r = scanIdent(sql, i + 1);
      yield make(
        'quoted_identifier',
        start,
        r.end,
        truncateIdentifier(r.value),
        r.closed ? undefined : { unterminated: true },
      );
      i = r.end;
      continue;
    }

    // $1 params and $tag$ dollar quotes
    if (c === 36) {
      const c1 = sql.charCodeAt(i + 1);
      if (isDigit(c1)) {
        let j = i + 1;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
        yield make('param', start, j, sql.slice(i, j));
        i = j;
        continue;
      }
      let j = i + 1;
      if (c1 !== 36) {
        if (!isIdentStart(c1)) {
          yield make('unknown', start, i + 1, '$');
          i++;
          continue;
        }
        while (j < n && isIdentStart(sql.charCodeAt(j))) j++;
        while (j < n && (isIdentStart(sql.charCodeAt(j)) || isDigit(sql.charCodeAt(j)))) j++;
        if (sql.charCodeAt(j) !== 36) {
          yield make('unknown', start, i + 1, '$');
          i++;
          continue;
        }
      }
      const delim = sql.slice(i, j + 1);
      const tag = delim.slice(1, -1);
      const close = sql.indexOf(delim, j + 1);
      if (close < 0) {
        yield make('string', start, n, sql.slice(j + 1), { stringKind: 'dollar', tag, unterminated: true });
        i = n;
      } else {
        const end = close + delim.length;
        yield make('string', start, end, sql.slice(j + 1, close), { stringKind: 'dollar', tag });
        i = end;
      }
      continue;
    }

    // numbers: 42, 4.2, .42, 4e2, 0x2A, 0o52, 0b101010, 1_000
    if (isDigit(c) || (c === 46 && isDigit(sql.charCodeAt(i + 1)))) {
      const j = scanNumber(sql, i);
      yield make('number', start, j, sql.slice(i, j).replace(/_/g, ''));
      i = j;
      continue;
    }

    // :: cast, := and plain punctuation
    if (c === 58) {
      const c1 = sql.charCodeAt(i + 1);
      if (c1 === 58) {
        yield make('punctuation', start, i + 2, '::');
        i += 2;
      } else if (c1 === 61) {
        yield make('operator', start, i + 2, ':=');
        i += 2;
      } else {
        yield make('punctuation', start, i + 1, ':');
        i++;
      }
      continue;
    }
    if (c === 40 || c === 41 || c === 91 || c === 93 || c === 44 || c === 59) {
      yield make('punctuation', start, i + 1, sql[i]!);
      i++;
      continue;
    }
    if (c === 46) {
      if (sql.charCodeAt(i + 1) === 46) {
        yield make('operator', start, i + 2, '..');
        i += 2;
      } else {
        yield make('punctuation', start, i + 1, '.');
        i++;
      }
      continue;
    }

    if (isOpChar(c)) {
      const j = scanOperator(sql, i);
      const text = sql.slice(i, j);
      yield make('operator', start, j, text === '!=' ? '<>' : text);
      i = j;
      continue;
    }

    // anything else (backslash, stray characters): one unknown token per character
    const cp = sql.codePointAt(i)!;
    const len = cp > 0xffff ? 2 : 1;
    yield make('unknown', start, i + len, sql.slice(i, i + len));
    i += len;
  }
}

/** End offset (just past the closing `*\/`) of the nestable block comment starting at `i`, or -1. */
function blockCommentEnd(sql: string, i: number): number {
  let depth = 0;
  const n = sql.length;
  let j = i;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === 47 && sql.charCodeAt(j + 1) === 42) {
      depth++;
      j += 2;
    } else if (c === 42 && sql.charCodeAt(j + 1) === 47) {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else j++;
  }
  return -1;
}

/**
 * PostgreSQL joins two string constants separated only by whitespace that
 * contains at least one newline (`'a'\n'b'` is `'ab'`). Returns the offset of
 * the continuing quote, or -1.
 */
function continuationQuote(sql: string, j: number): number {
  const n = sql.length;
  let sawNewline = false;
  while (j < n) {
    const c = sql.charCodeAt(j);
    if (c === 10 || c === 13) {
      sawNewline = true;
      j++;
    } else if (isSpace(c)) j++;
    else if (c === 45 && sql.charCodeAt(j + 1) === 45) {
      while (j < n && sql.charCodeAt(j) !== 10 && sql.charCodeAt(j) !== 13) j++;
    } else break;
  }
  return sawNewline && sql.charCodeAt(j) === 39 ? j : -1;
}

/** Scan a quoted identifier body starting after the opening `"`. */
function scanIdent(sql: string, from: number): { value: string; end: number; closed: boolean } {
  let j = from;
  let value = '';
  let seg = j;
  const n = sql.length;
  while (j < n) {
    if (sql.charCodeAt(j) === 34) {
      if (sql.charCodeAt(j + 1) === 34) {
        value += sql.slice(seg, j + 1);
        j += 2;
        seg = j;
        continue;
      }
      value += sql.slice(seg, j);
      return { value, end: j + 1, closed: true };
    }
    j++;
  }
  return { value: value + sql.slice(seg, n), end: n, closed: false };
}

/** `UESCAPE 'c'` after a U& literal: returns the escape character and the new end. */
function uescapeClause(sql: string, from: number): { char: string; end: number } | undefined {
  const re = /(?:\s|--[^\n\r]*|\/\*[\s\S]*?\*\/)*uescape(?:\s|--[^\n\r]*|\/\*[\s\S]*?\*\/)*'([^'])'/iy;
  re.lastIndex = from;
  const m = re.exec(sql);
  if (!m) return undefined;
  // "uescape" must be a whole word: the text before it was whitespace/comments, so only the start matters
  return { char: m[1]!, end: re.lastIndex };
}

function decodeUnicodeEscapes(raw: string, esc: string): string {
  let out = '';
  for (let j = 0; j < raw.length; j++) {
    const ch = raw[j]!;
    if (ch !== esc) {
      out += ch;
      continue;
    }
    const next = raw[j + 1];
    if (next === esc) {
      out += esc;
      j++;
    } else if (next === '+' && /^[0-9a-fA-F]{6}$/.test(raw.slice(j + 2, j + 8))) {
      out += safeCodePoint(Number.parseInt(raw.slice(j + 2, j + 8), 16));
      j += 7;
    } else if (/^[0-9a-fA-F]{4}$/.test(raw.slice(j + 1, j + 5))) {
      let cp = Number.parseInt(raw.slice(j + 1, j + 5), 16);
      j += 4;
      // surrogate pair written as two escapes
      if (cp >= 0xd800 && cp <= 0xdbff && raw[j + 1] === esc && /^[0-9a-fA-F]{4}$/.test(raw.slice(j + 2, j + 6))) {
        const lo = Number.parseInt(raw.slice(j + 2, j + 6), 16);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          j += 5;
        }
      }
      out += safeCodePoint(cp);
    } else {
      out += ch; // invalid escape: PostgreSQL rejects it; keep the text
    }
  }
  return out;
}

/**
 * Decode the body of an E'...' string (backslash escapes and ''). Octal and
 * hex escapes produce raw bytes, which combine into UTF-8 characters like on
 * the server (E'\xC3\xA9' is 'é'); invalid sequences become U+FFFD.
 */
function decodeEscapeString(raw: string): string {
  let out = '';
  let bytes: number[] = [];
  const flush = () => {
    if (bytes.length > 0) {
      out += utf8Decoder.decode(Uint8Array.from(bytes));
      bytes = [];
    }
  };
  const text = (s: string) => {
    flush();
    out += s;
  };
  for (let j = 0; j < raw.length; j++) {
    const ch = raw[j]!;
    if (ch === "'" && raw[j + 1] === "'") {
      text("'");
      j++;
      continue;
    }
    if (ch !== '\\' || j + 1 >= raw.length) {
      text(ch);
      continue;
    }
    const e = raw[++j]!;
    const simple = ESCAPES[e];
    if (simple !== undefined) {
      text(simple);
      continue;
    }
    if (e === 'x') {
      const m = /^[0-9a-fA-F]{1,2}/.exec(raw.slice(j + 1));
      if (m) {
        bytes.push(Number.parseInt(m[0], 16));
        j += m[0].length;
      } else text('x');
      continue;
    }
    if (e === 'u' || e === 'U') {
      const len = e === 'u' ? 4 : 8;
      const hex = raw.slice(j + 1, j + 1 + len);
      if (hex.length === len && /^[0-9a-fA-F]+$/.test(hex)) {
        let cp = Number.parseInt(hex, 16);
        j += len;
        if (cp >= 0xd800 && cp <= 0xdbff && raw.slice(j + 1, j + 3) === '\\u') {
          const lo = Number.parseInt(raw.slice(j + 3, j + 7), 16);
          if (lo >= 0xdc00 && lo <= 0xdfff) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            j += 6;
          }
        }
        text(safeCodePoint(cp));
      } else text(e);
      continue;
    }
    const m = /^[0-7]{1,3}/.exec(raw.slice(j));
    if (m) {
      bytes.push(Number.parseInt(m[0], 8) & 0xff);
      j += m[0].length - 1;
    } else text(e);
  }
  flush();
  return out;
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
const utf8Decoder = new TextDecoder();

function safeCodePoint(cp: number): string {
  return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
}

function scanNumber(sql: string, i: number): number {
  const n = sql.length;
  const c0 = sql.charCodeAt(i);
  const c1 = sql.charCodeAt(i + 1) | 32;
  if (c0 === 48 && (c1 === 120 || c1 === 111 || c1 === 98)) {
    const ok =
      c1 === 120 ? isHex : c1 === 111 ? (c: number) => c >= 48 && c <= 55 : (c: number) => c === 48 || c === 49;
    let j = i + 2;
    if (j < n && ok(sql.charCodeAt(j))) {
      while (j < n && (ok(sql.charCodeAt(j)) || (sql.charCodeAt(j) === 95 && ok(sql.charCodeAt(j + 1))))) j++;
      return j;
    }
  }
  let j = i;
  const digits = () => {
    while (j < n && (isDigit(sql.charCodeAt(j)) || (sql.charCodeAt(j) === 95 && isDigit(sql.charCodeAt(j + 1))))) j++;
  };
  digits();
  // a '.' belongs to the number unless it starts '..' (as in array slices [1..2])
  if (sql.charCodeAt(j) === 46 && sql.charCodeAt(j + 1) !== 46) {
    j++;
    digits();
  }
  if ((sql.charCodeAt(j) | 32) === 101) {
    let k = j + 1;
    if (sql.charCodeAt(k) === 43 || sql.charCodeAt(k) === 45) k++;
    if (isDigit(sql.charCodeAt(k))) {
      j = k;
      digits();
    }
  }
  return j;
}

/** PostgreSQL's operator rules: no `--` or `/*` inside; a trailing + or - only with a non-math character present. */
function scanOperator(sql: string, i: number): number {
  const n = sql.length;
  let j = i;
  while (j < n && isOpChar(sql.charCodeAt(j))) {
    if (j > i) {
      const two = sql.slice(j, j + 2);
      if (two === '--' || two === '/*') break;
    }
    j++;
  }
  // a run that itself starts with -- or /* was handled as a comment before we got here
  let len = j - i;
  if (len > 1) {
    const text = sql.slice(i, j);
    let hasNonMath = false;
    for (const ch of text) if (NON_MATH_OP.includes(ch)) hasNonMath = true;
    if (!hasNonMath) {
      while (len > 1 && (sql[i + len - 1] === '+' || sql[i + len - 1] === '-')) len--;
    }
  }
  return i + len;
}
