import { type SqlToken, splitStatements } from '@pg-multiverse/core';
import { type HavingExpr, parseHaving } from './having.js';

/**
 * The SQL rewrite of a cross-shard read: what each shard runs and how the
 * rows are merged. Only shapes whose merge is exact are accepted; anything
 * else is a `Refused` naming the construct (the caller turns it into
 * `CROSS_SHARD_UNSUPPORTED`). See the README's cross-shard table.
 */

/** A LIMIT/OFFSET value: a constant, or a parameter read at execution. */
export type Count = { value: number } | { param: number } | undefined;

export type AggFn = 'count' | 'sum' | 'min' | 'max' | 'avg';

/** A visible output column of a grouped read. */
export type OutColumn =
  | { kind: 'key'; field: number }
  | { kind: 'agg'; fn: Exclude<AggFn, 'avg'>; field: number }
  | { kind: 'avg'; sum: number; count: number; name: string };

/** One ORDER BY item, resolved to an output column (index), or to an output name found at execution. */
export interface OrderItem {
  column: { index: number } | { name: string };
  desc: boolean;
  nullsFirst: boolean;
  text: string;
}

export interface MergeSpec {
  mode: 'plain' | 'distinct' | 'grouped';
  /** Per-shard SQL: text pieces and original parameter numbers (renumbered at execution). */
  parts: ReadonlyArray<string | { param: number }>;
  /** Append `LIMIT limit + offset` (plain and distinct reads with a LIMIT). */
  pushLimit: boolean;
  limit: Count;
  offset: Count;
  order: OrderItem[];
  /** grouped: the visible columns, the group-key fields (visible or hidden), HAVING, DISTINCT after grouping. */
  columns: OutColumn[];
  keyFields: number[];
  /** grouped: how each per-shard field merges (`key`: equal within a group). */
  fieldKinds: Array<'key' | 'count' | 'sum' | 'min' | 'max'>;
  having: HavingExpr | undefined;
  distinct: boolean;
}

export interface Refused {
  refused: string;
  why?: string;
}

const SUPPORTED_AGGS = new Set<string>(['count', 'sum', 'min', 'max', 'avg']);

/** Built-in aggregates whose result cannot be merged from per-shard results (or not exactly). */
const OTHER_AGGS: Record<string, string> = {
  array_agg: 'the order of its elements across shards is not defined by the merge',
  string_agg: 'the order of its parts across shards is not defined by the merge',
  json_agg: 'element order',
  jsonb_agg: 'element order',
  json_object_agg: 'key order',
  jsonb_object_agg: 'duplicate keys across shards',
  xmlagg: 'element order',
  percentile_cont: 'a percentile needs every row in one place',
  percentile_disc: 'a percentile needs every row in one place',
  mode: 'the most frequent value needs every row in one place',
  stddev: 'not merged',
  stddev_pop: 'not merged',
  stddev_samp: 'not merged',
  variance: 'not merged',
  var_pop: 'not merged',
  var_samp: 'not merged',
  corr: 'not merged',
  covar_pop: 'not merged',
  covar_samp: 'not merged',
  regr_slope: 'not merged',
  regr_intercept: 'not merged',
  regr_count: 'not merged',
  regr_r2: 'not merged',
  regr_avgx: 'not merged',
  regr_avgy: 'not merged',
  regr_sxx: 'not merged',
  regr_sxy: 'not merged',
  regr_syy: 'not merged',
  bool_and: 'not merged',
  bool_or: 'not merged',
  every: 'not merged',
  bit_and: 'not merged',
  bit_or: 'not merged',
  bit_xor: 'not merged',
  range_agg: 'not merged',
  range_intersect_agg: 'not merged',
  any_value: 'not merged',
  grouping: 'grouping sets',
};

const isWord = (t: SqlToken | undefined, ...v: string[]) =>
  t !== undefined && t.type === 'word' && (v.length === 0 || v.includes(t.value));
const isPunct = (t: SqlToken | undefined, v: string) => t !== undefined && t.type === 'punctuation' && t.value === v;
const isName = (t: SqlToken | undefined) => t !== undefined && (t.type === 'word' || t.type === 'quoted_identifier');

function skipGroup(tokens: readonly SqlToken[], i: number): number {
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.type !== 'punctuation') continue;
    if (t.value === '(' || t.value === '[') depth++;
    else if (t.value === ')' || t.value === ']') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return tokens.length;
}

/** [start, end) token ranges split on top-level commas. */
function splitCommas(tokens: readonly SqlToken[], i: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let s = i;
  for (let j = i; j < end; j++) {
    if (isPunct(tokens[j], '(') || isPunct(tokens[j], '[')) {
      j = skipGroup(tokens, j) - 1;
      continue;
    }
    if (isPunct(tokens[j], ',')) {
      out.push([s, j]);
      s = j + 1;
    }
  }
  if (end > s) out.push([s, end]);
  return out;
}

/** Normalised text of a token range, for comparing expressions (`count(*)` = `COUNT( * )`). */
export function norm(tokens: readonly SqlToken[], i: number, end: number): string {
  const out: string[] = [];
  for (let j = i; j < end; j++) {
    const t = tokens[j]!;
    out.push(
      t.type === 'quoted_identifier' && /^[a-z_][a-z0-9_$]*$/.test(t.value)
        ? t.value
        : t.type === 'word'
          ? t.value
          : t.text,
    );
  }
  return out.join(' ');
}

interface Item {
  start: number;
  end: number;
  /** expression range (without the alias) */
  exprEnd: number;
  alias: string | undefined;
  star: boolean;
  text: string;
  agg: { fn: AggFn; argStart: number; argEnd: number; cast: boolean } | undefined;
}

const CLAUSES = ['from', 'where', 'group', 'having', 'window', 'order', 'limit', 'offset', 'fetch', 'for'] as const;

/**
 * The merge of one cross-shard SELECT, or why it is refused. `colocated`:
 * the statement's tables are one, or joined on the shard key (core's
 * analysis); otherwise a join is refused.
 */
export function rewriteCrossShardRead(sql: string, colocated: boolean): MergeSpec | Refused {
  const statements = splitStatements(sql);
  if (statements.length !== 1) return { refused: 'several statements in one text' };
  const st = statements[0]!;
  const tokens = st.tokens;
  let i = 0;
  while (isPunct(tokens[i], '(')) i++;
  if (i > 0) return { refused: 'a parenthesised SELECT' };
  const first = tokens[0];
  if (isWord(first, 'with'))
    return { refused: 'WITH (a common table expression)', why: 'it would run on each shard alone' };
  if (!isWord(first, 'select')) return { refused: `${first ? first.text.toUpperCase() : 'an empty'} statement` };

  // whole-statement checks
  for (let j = 0; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (isPunct(t, '(') && isWord(tokens[j + 1], 'select', 'with', 'values', 'table'))
      return { refused: 'a subquery', why: 'it would run on each shard against that shard’s rows only' };
    if (t.type !== 'word') continue;
    if (t.value === 'over' && (isPunct(tokens[j + 1], '(') || isName(tokens[j + 1]))) {
      return { refused: 'a window function (OVER)', why: 'a window spans rows of every shard' };
    }
    if (t.value === 'within' && isWord(tokens[j + 1], 'group'))
      return { refused: 'an ordered-set aggregate (WITHIN GROUP)' };
    if (t.value === 'filter' && isPunct(tokens[j + 1], '(') && isWord(tokens[j + 2], 'where'))
      return { refused: 'an aggregate FILTER clause' };
    if (t.value === 'lateral') return { refused: 'LATERAL' };
    if (t.value === 'union' || t.value === 'intersect' || t.value === 'except')
      return { refused: t.value.toUpperCase(), why: 'set operations across shards are not merged' };
    if ((t.value === 'grouping' && isWord(tokens[j + 1], 'sets')) || t.value === 'rollup' || t.value === 'cube')
      return { refused: t.value === 'grouping' ? 'GROUPING SETS' : t.value.toUpperCase() };
    if (
      isPunct(tokens[j + 1], '(') &&
      isPunct(tokens[j - 1], '.') &&
      (SUPPORTED_AGGS.has(t.value) || t.value in OTHER_AGGS)
    )
      return {
        refused: `a schema-qualified aggregate (${tokens[j - 2]?.text ?? ''}.${t.value})`,
        why: 'write it unqualified',
      };
    if (isPunct(tokens[j + 1], '(') && !isPunct(tokens[j - 1], '.') && t.value in OTHER_AGGS)
      return { refused: `${t.value}()`, why: OTHER_AGGS[t.value] };
  }
  if (!colocated)
    return { refused: 'a join that is not on the shard key', why: 'rows of one shard would meet rows of another' };

  // clause positions at depth 0
  const at: Partial<Record<(typeof CLAUSES)[number], number>> = {};
  for (let j = 1; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (isPunct(t, '(') || isPunct(t, '[')) {
      j = skipGroup(tokens, j) - 1;
      continue;
    }
    if (t.type !== 'word' || isPunct(tokens[j - 1], '.')) continue;
    const w = t.value as (typeof CLAUSES)[number];
    if (!(CLAUSES as readonly string[]).includes(w)) continue;
    if ((w === 'group' || w === 'order') && !isWord(tokens[j + 1], 'by')) continue;
    if (w === 'from' && isWord(tokens[j - 1], 'distinct')) continue; // IS DISTINCT FROM
    if (at[w] === undefined) at[w] = j;
  }
  if (at.window !== undefined) return { refused: 'a WINDOW clause' };
  if (at.for !== undefined) return { refused: 'a locking clause (FOR ...)' };
  const next = (from: number) => {
    let best = tokens.length;
    for (const c of CLAUSES) {
      const p = at[c];
      if (p !== undefined && p > from && p < best) best = p;
    }
    return best;
  };

  // select list
  let listStart = 1;
  let distinct = false;
  if (isWord(tokens[1], 'all')) listStart = 2;
  else if (isWord(tokens[1], 'distinct')) {
    if (isWord(tokens[2], 'on'))
      return { refused: 'DISTINCT ON', why: 'the first row per key needs every shard’s rows' };
    distinct = true;
    listStart = 2;
  }
  const listEnd = next(0);
  const items: Item[] = [];
  for (const [s, e] of splitCommas(tokens, listStart, listEnd)) {
    const item = parseItem(sql, tokens, s, e);
    if ('refused' in item) return item;
    items.push(item);
  }
  if (items.length === 0) return { refused: 'an empty select list' };

  const groupAt = at.group;
  const groupEnd = groupAt !== undefined ? next(groupAt) : undefined;
  const groupBy = groupAt !== undefined ? splitCommas(tokens, groupAt + 2, groupEnd!) : [];
  const hasAgg = items.some((x) => x.agg !== undefined);
  const grouped = groupBy.length > 0 || hasAgg || at.having !== undefined;

  // ORDER BY
  const order: Array<{ s: number; e: number; desc: boolean; nullsFirst: boolean }> = [];
  if (at.order !== undefined) {
    for (const [s, e0] of splitCommas(tokens, at.order + 2, next(at.order))) {
      let e = e0;
      let desc = false;
      let nulls: boolean | undefined;
      if (isWord(tokens[e - 2], 'nulls') && isWord(tokens[e - 1], 'first', 'last')) {
        nulls = tokens[e - 1]!.value === 'first';
        e -= 2;
      }
      if (isWord(tokens[e - 1], 'asc', 'desc')) {
        desc = tokens[e - 1]!.value === 'desc';
        e -= 1;
      }
      for (let j = s; j < e; j++) {
        if (isWord(tokens[j], 'using')) return { refused: 'ORDER BY ... USING' };
        if (isWord(tokens[j], 'collate'))
          return { refused: 'ORDER BY ... COLLATE', why: 'order by a select-list column instead' };
      }
      order.push({ s, e, desc, nullsFirst: nulls ?? desc });
    }
  }

  // LIMIT / OFFSET / FETCH
  let limit: Count;
  let offset: Count;
  if (at.limit !== undefined) {
    const e = next(at.limit);
    if (!(e === at.limit + 2 && isWord(tokens[at.limit + 1], 'all'))) {
      const c = countAt(tokens, at.limit + 1, e);
      if (c === null) return { refused: 'a LIMIT that is not a constant or a parameter' };
      limit = c;
    }
  }
  if (at.offset !== undefined) {
    let e = next(at.offset);
    if (isWord(tokens[e - 1], 'row', 'rows')) e--;
    const c = countAt(tokens, at.offset + 1, e);
    if (c === null) return { refused: 'an OFFSET that is not a constant or a parameter' };
    offset = c;
  }
  if (at.fetch !== undefined) {
    // FETCH FIRST|NEXT [n] ROW|ROWS ONLY
    const e = next(at.fetch);
    if (isWord(tokens[e - 1], 'ties')) return { refused: 'FETCH ... WITH TIES' };
    if (!isWord(tokens[e - 1], 'only') || !isWord(tokens[e - 2], 'row', 'rows'))
      return { refused: 'this FETCH clause' };
    const cs = at.fetch + 2;
    const c = cs === e - 2 ? { value: 1 } : countAt(tokens, cs, e - 2);
    if (c === null) return { refused: 'a FETCH count that is not a constant or a parameter' };
    limit = c;
  }

  // the tail (ORDER BY ... LIMIT/OFFSET/FETCH) is cut from what each shard runs
  const tailStart = Math.min(
    ...[at.having, at.order, at.limit, at.offset, at.fetch].filter((x): x is number => x !== undefined),
    tokens.length,
  );
  const fromStart = at.from ?? listEnd;
  if (!grouped) {
    const resolved = resolveOrder(sql, tokens, items, order);
    if ('refused' in resolved) return resolved;
    // plain/distinct: each shard runs the statement without OFFSET, its LIMIT raised to limit + offset
    const orderEnd = at.order !== undefined ? next(at.order) : undefined;
    const parts = pieces(sql, tokens, 0, Math.min(tailStart, tokens.length));
    if (at.order !== undefined) parts.push(' ', ...pieces(sql, tokens, at.order, orderEnd!));
    return {
      mode: distinct ? 'distinct' : 'plain',
      parts,
      pushLimit: limit !== undefined,
      limit,
      offset,
      order: resolved,
      columns: [],
      keyFields: [],
      fieldKinds: [],
      having: undefined,
      distinct,
    };
  }

  // grouped: each shard groups its rows; the merge combines the groups
  if (items.some((x) => x.star)) return { refused: 'SELECT * with GROUP BY or aggregates' };
  const keyTexts = groupBy.map(([s, e]) => norm(tokens, s, e));
  const select: string[] = [];
  const fieldKinds: MergeSpec['fieldKinds'] = [];
  const columns: OutColumn[] = [];
  const keyFields: number[] = new Array(groupBy.length).fill(-1);
  let field = 0;
  for (const [n, item] of items.entries()) {
    const text = sql.slice(tokens[item.start]!.start, tokens[item.end - 1]!.end);
    if (item.agg) {
      if (item.agg.fn === 'avg') {
        if (item.agg.cast) return { refused: `${item.text}: a cast of avg()` };
        const arg = sql.slice(tokens[item.agg.argStart]!.start, tokens[item.agg.argEnd - 1]!.end);
        select.push(`sum(${arg}) AS "__pgm_s${n}"`, `count(${arg}) AS "__pgm_c${n}"`);
        fieldKinds.push('sum', 'count');
        columns.push({ kind: 'avg', sum: field, count: field + 1, name: item.alias ?? 'avg' });
        field += 2;
      } else {
        select.push(text);
        fieldKinds.push(item.agg.fn);
        columns.push({ kind: 'agg', fn: item.agg.fn, field });
        field++;
      }
      continue;
    }
    const exprText = norm(tokens, item.start, item.exprEnd);
    let k = keyTexts.indexOf(exprText);
    if (k < 0) {
      // GROUP BY <position> naming this item
      k = groupBy.findIndex(
        ([s, e]) => e - s === 1 && tokens[s]!.type === 'number' && Number(tokens[s]!.value) === n + 1,
      );
    }
    if (k < 0) return { refused: `${item.text}: neither a GROUP BY key nor count/sum/min/max/avg` };
    select.push(text);
    fieldKinds.push('key');
    columns.push({ kind: 'key', field });
    if (keyFields[k] === -1) keyFields[k] = field;
    field++;
  }
  // group keys not in the select list: hidden columns
  for (const [k, [s, e]] of groupBy.entries()) {
    if (keyFields[k] !== -1) continue;
    if (e - s === 1 && tokens[s]!.type === 'number')
      return { refused: `GROUP BY ${tokens[s]!.text}: no such select-list position` };
    if (e - s === 1 && items.some((x) => x.alias === tokens[s]!.value))
      return { refused: `GROUP BY ${tokens[s]!.text}: an output name`, why: 'group by the expression or its position' };
    select.push(`${sql.slice(tokens[s]!.start, tokens[e - 1]!.end)} AS "__pgm_k${k}"`);
    fieldKinds.push('key');
    keyFields[k] = field++;
  }
  // HAVING: its aggregates become hidden columns unless the select list has them
  let having: HavingExpr | undefined;
  if (at.having !== undefined) {
    const aggField = (fn: AggFn, argStart: number, argEnd: number): number | { sum: number; count: number } | null => {
      const t = norm(tokens, argStart, argEnd);
      for (const [n, item] of items.entries()) {
        if (item.agg?.fn === fn && !item.agg.cast && norm(tokens, item.agg.argStart, item.agg.argEnd) === t) {
          const c = columns[n]!;
          return c.kind === 'avg' ? { sum: c.sum, count: c.count } : c.kind === 'agg' ? c.field : null;
        }
      }
      const arg = argEnd > argStart ? sql.slice(tokens[argStart]!.start, tokens[argEnd - 1]!.end) : '*';
      if (fn === 'avg') {
        select.push(`sum(${arg}) AS "__pgm_h${field}"`, `count(${arg}) AS "__pgm_h${field + 1}"`);
        fieldKinds.push('sum', 'count');
        field += 2;
        return { sum: field - 2, count: field - 1 };
      }
      select.push(`${fn}(${arg}) AS "__pgm_h${field}"`);
      fieldKinds.push(fn);
      return field++;
    };
    const keyField = (s: number, e: number): number | null => {
      const t = norm(tokens, s, e);
      const k = keyTexts.indexOf(t);
      return k >= 0 ? keyFields[k]! : null;
    };
    const h = parseHaving(tokens, at.having + 1, next(at.having), aggField, keyField);
    if ('refused' in h) return h;
    having = h;
  }
  const resolved = resolveOrder(sql, tokens, items, order);
  if ('refused' in resolved) return resolved;
  const parts: Array<string | { param: number }> = [`SELECT ${select.join(', ')} `];
  parts.push(...pieces(sql, tokens, fromStart, Math.min(tailStart, tokens.length)));
  // parameters of the select list (kept in the rewritten items) must keep their numbers
  const listParams = tokens.slice(listStart, listEnd).some((t) => t.type === 'param');
  if (listParams) return { refused: 'a parameter in the select list of a grouped cross-shard read' };
  return {
    mode: 'grouped',
    parts,
    pushLimit: false,
    limit,
    offset,
    order: resolved,
    columns,
    keyFields,
    fieldKinds,
    having,
    distinct,
  };
}

function parseItem(sql: string, tokens: readonly SqlToken[], s: number, e: number): Item | Refused {
  let exprEnd = e;
  let alias: string | undefined;
  if (e - s >= 3 && isWord(tokens[e - 2], 'as') && isName(tokens[e - 1])) {
    alias = tokens[e - 1]!.value;
    exprEnd = e - 2;
  } else if (
    e - s >= 2 &&
    isName(tokens[e - 1]) &&
    !isWord(tokens[e - 1], 'null', 'true', 'false', 'unknown') &&
    !isWord(tokens[e - 2], 'is', 'not', 'and', 'or', 'like', 'ilike', 'in', 'between', 'collate', 'distinct', 'from') &&
    !isPunct(tokens[e - 2], '.') &&
    !isPunct(tokens[e - 2], '::') &&
    tokens[e - 2]!.type !== 'operator' &&
    !isWord(tokens[e - 1], 'end')
  ) {
    alias = tokens[e - 1]!.value;
    exprEnd = e - 1;
  }
  const text = sql.slice(tokens[s]!.start, tokens[e - 1]!.end);
  const star =
    (exprEnd - s === 1 && tokens[s]!.type === 'operator' && tokens[s]!.value === '*') ||
    (exprEnd - s >= 3 && isPunct(tokens[exprEnd - 2], '.') && tokens[exprEnd - 1]!.value === '*');
  // aggregates: find every supported call in the expression
  let agg: Item['agg'];
  let calls = 0;
  for (let j = s; j < exprEnd; j++) {
    const t = tokens[j]!;
    if (
      t.type === 'word' &&
      SUPPORTED_AGGS.has(t.value) &&
      isPunct(tokens[j + 1], '(') &&
      !isPunct(tokens[j - 1], '.')
    ) {
      calls++;
      const close = skipGroup(tokens, j + 1);
      if (isWord(tokens[j + 2], 'distinct'))
        return { refused: `${t.value}(DISTINCT ...)`, why: 'distinct values repeat across shards' };
      for (let k = j + 2; k < close - 1; k++) {
        if (isWord(tokens[k], 'order') && isWord(tokens[k + 1], 'by'))
          return { refused: `ORDER BY inside ${t.value}()` };
      }
      let argStart = j + 2;
      if (isWord(tokens[argStart], 'all')) argStart++;
      let after = close;
      let cast = false;
      if (isPunct(tokens[after], '::')) {
        cast = true;
        const castType = tokens[after + 1]?.value;
        if (t.value !== 'count' || !['int', 'int4', 'int8', 'integer', 'bigint'].includes(castType ?? ''))
          return {
            refused: `${text}: a cast of ${t.value}()`,
            why: 'cast after merging: list the aggregate without a cast',
          };
        after += 2;
      }
      if (j === s && after === exprEnd) agg = { fn: t.value as AggFn, argStart, argEnd: close - 1, cast };
      j = close - 1;
    }
  }
  if (calls > 0 && !agg)
    return { refused: `${text}: an expression over aggregates`, why: 'list each aggregate on its own' };
  return { start: s, end: e, exprEnd, alias, star, text, agg };
}

/** A LIMIT/OFFSET value: a constant integer or `$n`; null when something else. */
function countAt(tokens: readonly SqlToken[], s: number, e: number): Count | null {
  if (e - s === 1 && tokens[s]!.type === 'number' && /^\d+$/.test(tokens[s]!.value))
    return { value: Number(tokens[s]!.value) };
  if (e - s === 1 && tokens[s]!.type === 'param') return { param: Number(tokens[s]!.value.slice(1)) };
  if (e - s === 1 && isWord(tokens[s], 'null')) return undefined;
  if (e - s === 3 && tokens[s]!.type === 'param' && isPunct(tokens[s + 1], '::') && isName(tokens[s + 2]))
    return { param: Number(tokens[s]!.value.slice(1)) };
  return null;
}

/**
 * ORDER BY items as output columns: a position, an output name (resolved at
 * execution against the result's fields), or an expression written exactly as
 * a select-list item. Anything else is refused: the merge can only order by
 * what the shards return.
 */
function resolveOrder(
  sql: string,
  tokens: readonly SqlToken[],
  items: Item[],
  order: Array<{ s: number; e: number; desc: boolean; nullsFirst: boolean }>,
): OrderItem[] | Refused {
  const out: OrderItem[] = [];
  const starBefore = (n: number) => items.slice(0, n).some((x) => x.star);
  for (const o of order) {
    const text = sql.slice(tokens[o.s]!.start, tokens[o.e - 1]!.end);
    const base = { desc: o.desc, nullsFirst: o.nullsFirst, text };
    if (o.e - o.s === 1 && tokens[o.s]!.type === 'number') {
      const pos = Number(tokens[o.s]!.value);
      if (!Number.isInteger(pos) || pos < 1) return { refused: `ORDER BY ${text}` };
      out.push({ column: { index: pos - 1 }, ...base });
      continue;
    }
    if (o.e - o.s === 1 && isName(tokens[o.s])) {
      out.push({ column: { name: tokens[o.s]!.value }, ...base });
      continue;
    }
    const t = norm(tokens, o.s, o.e);
    const n = items.findIndex((x) => norm(tokens, x.start, x.exprEnd) === t);
    if (n < 0 || starBefore(n)) {
      return {
        refused: `ORDER BY ${text}`,
        why: 'ORDER BY columns of a cross-shard read must be in the select list: add it there and order by its name or position',
      };
    }
    if (items[n]!.alias !== undefined) out.push({ column: { name: items[n]!.alias! }, ...base });
    else out.push({ column: { index: n }, ...base });
  }
  return out;
}

/** The SQL text of tokens [i, end) as pieces, parameters kept apart for renumbering. */
function pieces(sql: string, tokens: readonly SqlToken[], i: number, end: number): Array<string | { param: number }> {
  const out: Array<string | { param: number }> = [];
  if (end <= i) return out;
  let from = tokens[i]!.start;
  for (let j = i; j < end; j++) {
    const t = tokens[j]!;
    if (t.type !== 'param') continue;
    out.push(sql.slice(from, t.start), { param: Number(t.value.slice(1)) });
    from = t.end;
  }
  out.push(sql.slice(from, tokens[end - 1]!.end));
  return out;
}
