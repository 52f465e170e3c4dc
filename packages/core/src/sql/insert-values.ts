import { splitStatements } from './split-statements.js';
import { isName, isPunct, isWord, skipGroup } from './syntax.js';
import { iterateSqlTokens, type SqlToken } from './tokenize.js';

/**
 * A multi-row `INSERT ... VALUES` split by rows, so a sharded cluster can send
 * each shard only its rows (`parseInsertValues`, `buildInsertRows`).
 */

/** One cell of a VALUES row: what it is, as far as routing needs to know. */
export type InsertCell =
  /** `$n`, optionally cast (`$n::int8`): the value is `params[index - 1]`. */
  | { kind: 'param'; index: number }
  /**
   * A string or number constant, optionally cast (`'abc'`, `-42`, `'…'::uuid`): `value` is its
   * decoded text; `numeric` when it was a number constant.
   */
  | { kind: 'literal'; value: string; numeric: boolean }
  /** `NULL` (optionally cast). */
  | { kind: 'null' }
  /** `DEFAULT`. */
  | { kind: 'default' }
  /** Anything else (a function call, an expression, a subquery): not known before it runs. */
  | { kind: 'expression' };

export interface InsertValuesRow {
  /** Offsets of the row in the text: `(` ... `)` included. */
  start: number;
  end: number;
  cells: InsertCell[];
}

/** A single `INSERT INTO table [(columns)] VALUES (...), (...) [ON CONFLICT ...] [RETURNING ...]`. */
export interface InsertValues {
  /** The target, exactly as named (`schema` only when qualified). */
  table: { schema?: string; name: string };
  /** The explicit column list (exact names), or undefined when the statement has none (table order). */
  columns: string[] | undefined;
  rows: InsertValuesRow[];
  /** Tokens of the statement (comments excluded), for rewriting. */
  tokens: readonly SqlToken[];
  /** Offsets of the statement in the text. */
  start: number;
  end: number;
}

/**
 * Parse `sql` as one `INSERT ... VALUES` statement. Undefined for anything else
 * (several statements, `WITH`, `INSERT ... SELECT`, `DEFAULT VALUES`, an
 * unterminated literal): such text cannot be split by rows.
 */
export function parseInsertValues(sql: string): InsertValues | undefined {
  const statements = splitStatements(sql);
  if (statements.length !== 1) return undefined;
  const st = statements[0]!;
  const t = st.tokens;
  if (t.some((x) => x.unterminated || x.type === 'unknown')) return undefined;
  let i = 0;
  if (!isWord(t[i], 'insert') || !isWord(t[i + 1], 'into')) return undefined;
  i += 2;
  if (!isName(t[i])) return undefined;
  const parts = [t[i]!.value];
  i++;
  while (isPunct(t[i], '.') && isName(t[i + 1])) {
    parts.push(t[i + 1]!.value);
    i += 2;
  }
  if (parts.length > 3) return undefined;
  const name = parts[parts.length - 1]!;
  const schema = parts.length > 1 ? parts[parts.length - 2] : undefined;
  // optional alias: AS name (PostgreSQL requires AS here)
  if (isWord(t[i], 'as') && isName(t[i + 1])) i += 2;
  let columns: string[] | undefined;
  if (isPunct(t[i], '(')) {
    const close = skipGroup(t, i) - 1;
    columns = [];
    for (let j = i + 1; j < close; j += 2) {
      if (!isName(t[j])) return undefined; // `col.field` / `col[1]` targets: not split
      columns.push(t[j]!.value);
      if (!isPunct(t[j + 1], ',') && j + 1 !== close) return undefined;
    }
    i = close + 1;
  }
  if (isWord(t[i], 'overriding')) i += 3; // OVERRIDING {SYSTEM|USER} VALUE
  if (!isWord(t[i], 'values')) return undefined;
  i++;
  const rows: InsertValuesRow[] = [];
  while (isPunct(t[i], '(')) {
    const next = skipGroup(t, i);
    if (next > t.length || !isPunct(t[next - 1], ')')) return undefined;
    rows.push({ start: t[i]!.start, end: t[next - 1]!.end, cells: cellsOf(t, i + 1, next - 1) });
    i = next;
    if (!isPunct(t[i], ',')) break;
    i++;
  }
  if (rows.length === 0) return undefined;
  // What may follow the rows: ON CONFLICT ... and RETURNING ... (nothing else, e.g. no set operation).
  if (i < t.length && !isWord(t[i], 'on', 'returning')) return undefined;
  return {
    table: schema === undefined ? { name } : { schema, name },
    columns,
    rows,
    tokens: t,
    start: st.start,
    end: st.end,
  };
}

/** Cells between `from` and `to` (exclusive), split on top-level commas. */
function cellsOf(t: readonly SqlToken[], from: number, to: number): InsertCell[] {
  const cells: InsertCell[] = [];
  let begin = from;
  for (let j = from; j <= to; j++) {
    if (j === to || isPunct(t[j], ',')) {
      cells.push(cellOf(t.slice(begin, j)));
      begin = j + 1;
    } else if (isPunct(t[j], '(') || isPunct(t[j], '[')) {
      j = skipGroup(t, j) - 1;
    }
  }
  return cells;
}

/** Strip a trailing `::type` (words, dots, `(n)`, `[]`) and read what is left. */
function cellOf(c: readonly SqlToken[]): InsertCell {
  let end = c.length;
  const cast = c.findIndex((x) => isPunct(x, '::'));
  if (cast >= 0) {
    for (let j = cast + 1; j < c.length; j++) {
      const x = c[j]!;
      const ok =
        isName(x) || isPunct(x, '.') || isPunct(x, '(') || isPunct(x, ')') || isPunct(x, '[') || isPunct(x, ']');
      if (!ok && x.type !== 'number') return { kind: 'expression' };
    }
    end = cast;
  }
  const v = c.slice(0, end);
  if (v.length === 1) {
    const x = v[0]!;
    if (x.type === 'param') return { kind: 'param', index: Number(x.value.slice(1)) };
    if (x.type === 'string' && x.stringKind !== 'bit' && x.stringKind !== 'hex')
      return { kind: 'literal', value: x.value, numeric: false };
    if (x.type === 'number') return { kind: 'literal', value: x.value, numeric: true };
    if (isWord(x, 'null')) return { kind: 'null' };
    if (isWord(x, 'default') && end === c.length) return { kind: 'default' };
  }
  if (v.length === 2 && v[0]!.type === 'operator' && (v[0]!.value === '-' || v[0]!.value === '+')) {
    if (v[1]!.type === 'number') {
      return { kind: 'literal', value: `${v[0]!.value === '-' ? '-' : ''}${v[1]!.value}`, numeric: true };
    }
  }
  return { kind: 'expression' };
}

/**
 * The statement with only `pick`'s rows of `rows` (the `( ... )` tuples of its
 * VALUES list, by offsets in `sql`, in order), its `$n` parameters renumbered
 * `$1..$k` in order of first appearance, and the values for them taken from
 * `params`. Parameters outside the rows (in `ON CONFLICT`, `RETURNING`) are
 * kept and renumbered too.
 */
export function buildInsertRows(
  sql: string,
  rows: readonly { readonly start: number; readonly end: number }[],
  pick: readonly number[],
  params: readonly unknown[] = [],
): { text: string; values: unknown[] } {
  if (pick.length === 0 || rows.length === 0) throw new RangeError('buildInsertRows: no rows');
  const first = rows[0]!;
  const last = rows[rows.length - 1]!;
  const ranges: Array<[number, number]> = [[0, first.start]];
  for (const r of pick) {
    const row = rows[r];
    if (row === undefined) throw new RangeError(`buildInsertRows: no row ${r}`);
    ranges.push([row.start, row.end]);
  }
  ranges.push([last.end, sql.length]);
  const renumber = new Map<number, number>();
  const values: unknown[] = [];
  const params$: SqlToken[] = [];
  for (const t of iterateSqlTokens(sql)) if (t.type === 'param') params$.push(t);
  let text = '';
  ranges.forEach(([from, to], k) => {
    if (k > 1 && k < ranges.length - 1) text += ', ';
    let at = from;
    for (const p of params$) {
      if (p.start < from || p.end > to) continue;
      const old = Number(p.value.slice(1));
      let n = renumber.get(old);
      if (n === undefined) {
        n = renumber.size + 1;
        renumber.set(old, n);
        values.push(params[old - 1]);
      }
      text += `${sql.slice(at, p.start)}$${n}`;
      at = p.end;
    }
    text += sql.slice(at, to);
  });
  return { text, values };
}
