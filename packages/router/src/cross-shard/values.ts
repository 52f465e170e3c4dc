/**
 * Values of merged cross-shard results, as PostgreSQL compares and adds them:
 * one comparator and one equality key per column type (by the type OID the
 * server reported), and exact decimal arithmetic for `numeric`/`int8` (pg
 * returns them as strings). A type whose order or equality JavaScript cannot
 * reproduce exactly is `undefined` here, and the caller refuses to merge on it.
 */

export const OID = {
  bool: 16,
  bytea: 17,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  float4: 700,
  float8: 701,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  numeric: 1700,
  uuid: 2950,
} as const;

const TEXT_TYPES = new Set<number>([OID.text, OID.varchar, OID.bpchar, OID.name]);
export const isTextType = (oid: number): boolean => TEXT_TYPES.has(oid);

/** A total order on non-null values of one type: < 0, 0, > 0. */
export type Compare = (a: unknown, b: unknown) => number;

const cmp = <T>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);

/** Byte order of UTF-8 (= code point order), what the C collation sorts by. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // surrogates (code points >= U+10000) sort after every BMP character in UTF-8
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

function toBig(v: unknown): bigint {
  return typeof v === 'bigint' ? v : BigInt(typeof v === 'number' ? v : String(v).trim());
}

/** int8 values as pg returns them (decimal strings), or numbers/bigints under a custom parser: no BigInt per comparison. */
function compareInt8(a: unknown, b: unknown): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const na = a.charCodeAt(0) === 45;
    const nb = b.charCodeAt(0) === 45;
    if (na !== nb) return na ? -1 : 1;
    const c = a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0;
    return na ? 0 - c : c; // (not -c: -0 for equal values)
  }
  if (typeof a === 'number' && typeof b === 'number') return cmp(a, b);
  return cmp(toBig(a), toBig(b));
}

function compareFloat(a: unknown, b: unknown): number {
  const x = Number(a);
  const y = Number(b);
  // PostgreSQL: NaN equals NaN and sorts above every other value; -0 equals 0
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.isNaN(x) ? (Number.isNaN(y) ? 0 : 1) : -1;
  return cmp(x, y);
}

/** A decimal as a scaled integer: value = int / 10^scale. */
export interface Decimal {
  int: bigint;
  scale: number;
}

export function parseDecimal(v: unknown): Decimal | 'NaN' | 'Infinity' | '-Infinity' {
  if (typeof v === 'bigint') return { int: v, scale: 0 };
  const s = (typeof v === 'number' ? numberText(v) : String(v)).trim();
  if (s === 'NaN' || s === 'Infinity' || s === '-Infinity') return s;
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) throw new TypeError(`not a number: ${s}`);
  let digits = (m[2] ?? '') + (m[3] ?? '');
  let scale = (m[3] ?? '').length;
  const exp = m[4] ? Number(m[4]) : 0;
  if (exp > 0) {
    if (exp >= scale) {
      digits += '0'.repeat(exp - scale);
      scale = 0;
    } else scale -= exp;
  } else if (exp < 0) scale -= exp;
  const int = BigInt(digits === '' ? '0' : digits);
  return { int: m[1] === '-' ? -int : int, scale };
}

function numberText(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  return String(n);
}

const pow10 = (n: number): bigint => 10n ** BigInt(n);

function rescale(d: Decimal, scale: number): bigint {
  return d.int * pow10(scale - d.scale);
}

export function compareDecimal(a: unknown, b: unknown): number {
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  const rank = (d: typeof x) => (d === '-Infinity' ? -1 : d === 'Infinity' ? 1 : d === 'NaN' ? 2 : 0);
  if (typeof x === 'string' || typeof y === 'string') {
    const rx = rank(x);
    const ry = rank(y);
    if (rx !== 0 || ry !== 0) return cmp(rx, ry);
  }
  const dx = x as Decimal;
  const dy = y as Decimal;
  const s = Math.max(dx.scale, dy.scale);
  return cmp(rescale(dx, s), rescale(dy, s));
}

export function formatDecimal(d: Decimal): string {
  const neg = d.int < 0n;
  let digits = (neg ? -d.int : d.int).toString();
  if (d.scale > 0) {
    digits = digits.padStart(d.scale + 1, '0');
    digits = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`;
  }
  return neg ? `-${digits}` : digits;
}

/** a + b keeping the larger scale (PostgreSQL's numeric addition: the result's dscale is the larger one). */
export function addDecimal(a: Decimal, b: Decimal): Decimal {
  const s = Math.max(a.scale, b.scale);
  return { int: rescale(a, s) + rescale(b, s), scale: s };
}

/** Weight (base-10000 digit position) and first base-10000 digit of a decimal, as PostgreSQL's NumericVar. */
function weightAndFirst(d: Decimal): { weight: number; first: number } {
  const abs = d.int < 0n ? -d.int : d.int;
  if (abs === 0n) return { weight: 0, first: 0 };
  // split into integer and fraction digit strings
  const text = abs.toString().padStart(d.scale + 1, '0');
  const intPart = d.scale > 0 ? text.slice(0, -d.scale) : text;
  const frac = d.scale > 0 ? text.slice(-d.scale) : '';
  const intDigits = intPart.replace(/^0+/, '');
  if (intDigits.length > 0) {
    const groups = Math.ceil(intDigits.length / 4);
    const lead = intDigits.length - (groups - 1) * 4;
    return { weight: groups - 1, first: Number(intDigits.slice(0, lead)) };
  }
  const padded = frac.padEnd(Math.ceil(frac.length / 4) * 4, '0');
  for (let k = 0; k < padded.length / 4; k++) {
    const g = Number(padded.slice(k * 4, k * 4 + 4));
    if (g !== 0) return { weight: -(k + 1), first: g };
  }
  return { weight: 0, first: 0 };
}

/**
 * `a / b` as PostgreSQL's numeric division (`numeric_div`): the result scale
 * from `select_div_scale` (at least 16 significant digits, at least either
 * input's scale, at most 1000), rounded half away from zero. What `avg()` of
 * integer and numeric columns returns: sum / count.
 */
export function divideDecimal(a: Decimal, b: Decimal): Decimal {
  const wa = weightAndFirst(a);
  const wb = weightAndFirst(b);
  let qweight = wa.weight - wb.weight;
  if (wa.first <= wb.first) qweight--;
  let rscale = 16 - qweight * 4;
  rscale = Math.max(rscale, a.scale, b.scale, 0);
  rscale = Math.min(rscale, 1000);
  // a/b * 10^rscale = a.int * 10^(rscale + b.scale) / (b.int * 10^a.scale)
  const num = a.int * pow10(rscale + b.scale);
  const den = b.int * pow10(a.scale);
  const neg = num < 0n !== den < 0n;
  const n = num < 0n ? -num : num;
  const dd = den < 0n ? -den : den;
  let q = n / dd;
  if ((n % dd) * 2n >= dd) q += 1n;
  return { int: neg ? -q : q, scale: rscale };
}

/** The comparator of a column type, undefined when JavaScript cannot reproduce PostgreSQL's order. */
export function comparatorFor(oid: number): Compare | undefined {
  switch (oid) {
    case OID.int2:
    case OID.int4:
    case OID.oid:
      return (a, b) => cmp(Number(a), Number(b));
    case OID.int8:
      return compareInt8;
    case OID.float4:
    case OID.float8:
      return compareFloat;
    case OID.numeric:
      return compareDecimal;
    case OID.bool:
      return (a, b) => cmp(a === true || a === 't' ? 1 : 0, b === true || b === 't' ? 1 : 0);
    case OID.text:
    case OID.varchar:
    case OID.name:
      return (a, b) => compareCodePoints(String(a), String(b));
    case OID.bpchar:
      // trailing spaces do not count in character(n)
      return (a, b) => compareCodePoints(String(a).replace(/ +$/, ''), String(b).replace(/ +$/, ''));
    case OID.uuid:
      return (a, b) => cmp(String(a).toLowerCase(), String(b).toLowerCase());
    case OID.date:
      // pg parses dates to midnight Dates (no sub-day part): exact
      return (a, b) =>
        a instanceof Date && b instanceof Date ? cmp(a.getTime(), b.getTime()) : cmp(String(a), String(b));
    default:
      return undefined;
  }
}

/** A string equal for values PostgreSQL's `=` (as DISTINCT and GROUP BY use it) holds equal; undefined: unknown type. */
export function equalityKeyFor(oid: number): ((v: unknown) => string) | undefined {
  if (comparatorFor(oid) === undefined) {
    // types with an exact text form are fine for equality (jsonb is normalised by the server, bytea exact)
    if (oid === OID.bytea) return (v) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : String(v));
    if (oid === 3802) return (v) => JSON.stringify(v);
    return undefined;
  }
  switch (oid) {
    case OID.int8:
      return (v) => toBig(v).toString();
    case OID.numeric:
      return (v) => {
        const d = parseDecimal(v);
        if (typeof d === 'string') return d;
        let { int, scale } = d;
        while (scale > 0 && int % 10n === 0n) {
          int /= 10n;
          scale--;
        }
        return `${int}e-${scale}`;
      };
    case OID.float4:
    case OID.float8:
      return (v) => {
        const n = Number(v);
        return Number.isNaN(n) ? 'NaN' : n === 0 ? '0' : String(n);
      };
    case OID.bpchar:
      return (v) => String(v).replace(/ +$/, '');
    case OID.uuid:
      return (v) => String(v).toLowerCase();
    case OID.bool:
      return (v) => String(v === true || v === 't');
    case OID.date:
      return (v) => (v instanceof Date ? String(v.getTime()) : String(v));
    default:
      return (v) => String(v);
  }
}

/**
 * `a + b` for partial sums and counts as pg returned them: bigints add as
 * bigints, numbers as numbers (floats, or int8 under a custom type parser),
 * strings (int8, numeric) exactly as decimals, kept as strings. NULL is skipped.
 */
export function addValues(a: unknown, b: unknown): unknown {
  if (a === null || a === undefined) return b;
  if (b === null || b === undefined) return a;
  if (typeof a === 'bigint' || typeof b === 'bigint') return toBig(a) + toBig(b);
  if (typeof a === 'number' && typeof b === 'number') return a + b;
  const x = parseDecimal(a);
  const y = parseDecimal(b);
  if (typeof x === 'string' || typeof y === 'string') return String(Number(a) + Number(b));
  return formatDecimal(addDecimal(x, y));
}
