import type { SqlToken } from '@pg-multiverse/core';
import type { AggFn, Refused } from './rewrite.js';
import { compareCodePoints, compareDecimal, parseDecimal } from './values.js';

/**
 * HAVING of a cross-shard grouped read, evaluated after the groups are
 * merged (each shard's HAVING would see only its part of a group). The
 * grammar it accepts: AND / OR / NOT / parentheses over comparisons
 * (`= <> != < <= > >=`, `IS [NOT] NULL`) of aggregates (count/sum/min/max/avg),
 * GROUP BY keys, constants and parameters. Anything else is refused.
 */
export type Operand =
  | { agg: number | { sum: number; count: number }; fn: AggFn }
  | { key: number }
  | { literal: string; numeric: boolean }
  | { param: number }
  | { null: true };

export type HavingExpr =
  | { op: 'and' | 'or'; args: HavingExpr[] }
  | { op: 'not'; arg: HavingExpr }
  | { op: 'cmp'; cmp: string; left: Operand; right: Operand }
  | { op: 'isnull'; negate: boolean; arg: Operand };

const CMP = new Set(['=', '<>', '<', '<=', '>', '>=']);

export function parseHaving(
  tokens: readonly SqlToken[],
  start: number,
  end: number,
  aggField: (fn: AggFn, argStart: number, argEnd: number) => number | { sum: number; count: number } | null,
  keyField: (s: number, e: number) => number | null,
): HavingExpr | Refused {
  let i = start;
  const text = tokens
    .slice(start, end)
    .map((t) => t.text)
    .join(' ');
  const refuse = (): Refused => ({
    refused: `HAVING ${text}`,
    why: 'comparisons of aggregates, keys and constants only',
  });
  class Bad extends Error {}

  const peekWord = (w: string) => tokens[i]?.type === 'word' && tokens[i]!.value === w;

  function operand(): Operand {
    const t = tokens[i];
    if (!t || i >= end) throw new Bad();
    if (t.type === 'param') {
      i++;
      return { param: Number(t.value.slice(1)) };
    }
    if (t.type === 'number') {
      i++;
      return { literal: t.value, numeric: true };
    }
    if (t.type === 'operator' && t.value === '-' && tokens[i + 1]?.type === 'number') {
      i += 2;
      return { literal: `-${tokens[i - 1]!.value}`, numeric: true };
    }
    if (t.type === 'string') {
      i++;
      return { literal: t.value, numeric: false };
    }
    if (t.type === 'word' && t.value === 'null') {
      i++;
      return { null: true };
    }
    if (t.type === 'word' && ['count', 'sum', 'min', 'max', 'avg'].includes(t.value) && tokens[i + 1]?.value === '(') {
      let depth = 0;
      let j = i + 1;
      for (; j < end; j++) {
        if (tokens[j]!.value === '(' && tokens[j]!.type === 'punctuation') depth++;
        else if (tokens[j]!.value === ')' && tokens[j]!.type === 'punctuation' && --depth === 0) break;
      }
      let argStart = i + 2;
      if (tokens[argStart]?.type === 'word' && tokens[argStart]!.value === 'distinct') throw new Bad();
      if (tokens[argStart]?.type === 'word' && tokens[argStart]!.value === 'all') argStart++;
      const f = aggField(t.value as AggFn, argStart, j);
      if (f === null) throw new Bad();
      i = j + 1;
      return { agg: f, fn: t.value as AggFn };
    }
    // a GROUP BY key: the longest run of tokens up to a comparison or a keyword
    let j = i;
    while (j < end) {
      const x = tokens[j]!;
      if (x.type === 'operator' && CMP.has(x.value)) break;
      if (x.type === 'word' && ['and', 'or', 'is', 'not'].includes(x.value)) break;
      if (x.type === 'punctuation' && x.value === ')') break;
      j++;
    }
    const k = j > i ? keyField(i, j) : null;
    if (k === null) throw new Bad();
    i = j;
    return { key: k };
  }

  function comparison(): HavingExpr {
    if (peekWord('not')) {
      i++;
      return { op: 'not', arg: comparison() };
    }
    if (tokens[i]?.type === 'punctuation' && tokens[i]!.value === '(') {
      // a parenthesised condition (not an operand: aggregates and keys never start with '(')
      i++;
      const inner = disjunction();
      if (!(tokens[i]?.type === 'punctuation' && tokens[i]!.value === ')')) throw new Bad();
      i++;
      return inner;
    }
    const left = operand();
    if (peekWord('is')) {
      i++;
      let negate = false;
      if (peekWord('not')) {
        negate = true;
        i++;
      }
      if (!peekWord('null')) throw new Bad();
      i++;
      return { op: 'isnull', negate, arg: left };
    }
    const op = tokens[i];
    if (op?.type !== 'operator' || !CMP.has(op.value)) throw new Bad();
    i++;
    const right = operand();
    return { op: 'cmp', cmp: op.value, left, right };
  }

  function conjunction(): HavingExpr {
    const args = [comparison()];
    while (peekWord('and') && i < end) {
      i++;
      args.push(comparison());
    }
    return args.length === 1 ? args[0]! : { op: 'and', args };
  }

  function disjunction(): HavingExpr {
    const args = [conjunction()];
    while (peekWord('or') && i < end) {
      i++;
      args.push(conjunction());
    }
    return args.length === 1 ? args[0]! : { op: 'or', args };
  }

  try {
    const e = disjunction();
    if (i !== end) return refuse();
    return e;
  } catch (err) {
    if (err instanceof Bad) return refuse();
    throw err;
  }
}

/** Values of one merged group: a field's value (avg already computed), by field index. */
export type GroupValue = (o: Operand) => unknown;

function isNumericValue(v: unknown): boolean {
  if (typeof v === 'number' || typeof v === 'bigint') return true;
  if (typeof v !== 'string') return false;
  try {
    parseDecimal(v);
    return true;
  } catch {
    return false;
  }
}

/** SQL three-valued logic: true, false or null (unknown). A group passes only on true. */
export function evaluateHaving(
  e: HavingExpr,
  value: GroupValue,
  isText: (o: Operand) => boolean = () => false,
): boolean | null {
  switch (e.op) {
    case 'and': {
      let unknown = false;
      for (const a of e.args) {
        const r = evaluateHaving(a, value, isText);
        if (r === false) return false;
        if (r === null) unknown = true;
      }
      return unknown ? null : true;
    }
    case 'or': {
      let unknown = false;
      for (const a of e.args) {
        const r = evaluateHaving(a, value, isText);
        if (r === true) return true;
        if (r === null) unknown = true;
      }
      return unknown ? null : false;
    }
    case 'not': {
      const r = evaluateHaving(e.arg, value, isText);
      return r === null ? null : !r;
    }
    case 'isnull': {
      const v = value(e.arg);
      const isNull = v === null || v === undefined;
      return e.negate ? !isNull : isNull;
    }
    case 'cmp': {
      const a = value(e.left);
      const b = value(e.right);
      if (a === null || a === undefined || b === null || b === undefined) return null;
      const text = isText(e.left) || isText(e.right) || !isNumericValue(a) || !isNumericValue(b);
      const c = text ? compareCodePoints(String(a), String(b)) : compareDecimal(a, b);
      switch (e.cmp) {
        case '=':
          return c === 0;
        case '<>':
          return c !== 0;
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        default:
          return c >= 0;
      }
    }
  }
}
