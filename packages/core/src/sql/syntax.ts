import type { SqlToken } from './tokenize.js';

/** Small predicates over lexer tokens, shared by the analysis modules. */

/** A word token, optionally one of `values` (words are already lower-cased by the lexer). */
export const isWord = (t: SqlToken | undefined, ...values: string[]): boolean =>
  t !== undefined && t.type === 'word' && (values.length === 0 || values.includes(t.value));

export const isPunct = (t: SqlToken | undefined, value: string): boolean =>
  t !== undefined && t.type === 'punctuation' && t.value === value;

/** A word or a quoted identifier: something that can name a table, column or function. */
export const isName = (t: SqlToken | undefined): boolean =>
  t !== undefined && (t.type === 'word' || t.type === 'quoted_identifier');

/** Index just past the bracket group opening at `i` (or tokens.length if unbalanced). */
export function skipGroup(tokens: readonly SqlToken[], i: number): number {
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

/** Index of a statement's first keyword, past any opening parentheses (`((SELECT 1))`). */
export function statementStart(tokens: readonly SqlToken[], from = 0): number {
  let i = from;
  while (isPunct(tokens[i], '(')) i++;
  return i;
}

/** A name part printed like PostgreSQL's quote_ident: bare when a plain lower-case identifier, else double-quoted. */
export function quotePart(part: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(part) ? part : `"${part.replace(/"/g, '""')}"`;
}

/** Reads `a`, `a.b`, `a.b.c` at `j`. */
export function readName(tokens: readonly SqlToken[], j: number): { parts: string[]; next: number } | undefined {
  if (!isName(tokens[j])) return undefined;
  const parts = [tokens[j]!.value];
  let k = j + 1;
  while (isPunct(tokens[k], '.') && isName(tokens[k + 1])) {
    parts.push(tokens[k + 1]!.value);
    k += 2;
  }
  return { parts, next: k };
}

/** Words that end a FROM list at its own nesting level: the clauses after it, set operations, RETURNING. */
export const FROM_LIST_END = [
  'where',
  'group',
  'having',
  'window',
  'order',
  'limit',
  'offset',
  'fetch',
  'for',
  'union',
  'intersect',
  'except',
  'returning',
] as const;
