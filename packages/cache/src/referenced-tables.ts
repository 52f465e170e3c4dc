import { type SqlToken, splitStatements } from '@pg-multiverse/core';

/**
 * Tables a SQL text reads and writes, as written in the SQL: `table` or
 * `schema.table` (a three-part `db.schema.table` keeps its last two parts).
 * Each part is printed like PostgreSQL's quote_ident: bare when it is a plain
 * lower-case identifier (`users`, `public.users`; unquoted names are folded to
 * lower case), double-quoted otherwise (`"Orders"`, `"a.b".t`, `"x""y"`).
 * Unqualified names belong to the query's schema / search_path; the caller
 * qualifies them. Names are deduplicated, in order of appearance; a table that
 * is both read and written appears in both lists. CTE names are not tables.
 */
export interface ReferencedTables {
  read: string[];
  written: string[];
}

/**
 * Syntactic analysis on the core lexer, statement by statement (multi-statement
 * text is fine). Covers FROM / JOIN (comma joins, LATERAL, ONLY, parenthesised
 * joins, subqueries at any depth), TABLE t, INSERT INTO, UPDATE (and its FROM),
 * DELETE FROM (and USING), MERGE INTO ... USING, TRUNCATE, COPY, SELECT INTO,
 * CREATE TABLE [AS], CREATE/REFRESH MATERIALIZED VIEW, ALTER/DROP TABLE,
 * VIEW and MATERIALIZED VIEW. EXPLAIN without ANALYZE writes nothing: its
 * tables are reported as read. Function calls (`FROM f(x)`) are not tables.
 * Tables touched only inside functions, views or triggers cannot be seen.
 */
export function referencedTables(sql: string): ReferencedTables {
  const read = new Set<string>();
  const written = new Set<string>();
  for (const st of splitStatements(sql)) {
    let tokens: readonly SqlToken[] = st.tokens;
    let explainOnly = false;
    if (isWord(tokens[0], 'explain')) {
      const { rest, analyze } = stripExplain(tokens);
      tokens = rest;
      explainOnly = !analyze;
    }
    const r = new Set<string>();
    const w = new Set<string>();
    scanStatement(tokens, r, w);
    for (const n of r) read.add(n);
    for (const n of w) (explainOnly ? read : written).add(n);
  }
  return { read: [...read], written: [...written] };
}

const isWord = (t: SqlToken | undefined, ...values: string[]): boolean =>
  t !== undefined && t.type === 'word' && (values.length === 0 || values.includes(t.value));
const isPunct = (t: SqlToken | undefined, value: string): boolean =>
  t !== undefined && t.type === 'punctuation' && t.value === value;
const isName = (t: SqlToken | undefined): boolean =>
  t !== undefined && (t.type === 'word' || t.type === 'quoted_identifier');

/** Words that end a FROM list at their nesting level. */
const FROM_END = new Set([
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
  'set',
  'when',
  'into',
  'values',
  'select',
]);

/** Words that cannot be a table name right after FROM/JOIN/INTO (they start something else). */
const NOT_A_TABLE = new Set(['select', 'values', 'with', 'lateral', 'only', 'table', 'rows']);

function quotePart(part: string): string {
  return /^[a-z_][a-z0-9_$]*$/.test(part) ? part : `"${part.replace(/"/g, '""')}"`;
}

/** Reads `a`, `a.b`, `a.b.c` at `j`. */
function readName(tokens: readonly SqlToken[], j: number): { parts: string[]; next: number } | undefined {
  if (!isName(tokens[j])) return undefined;
  const parts = [tokens[j]!.value];
  let k = j + 1;
  while (isPunct(tokens[k], '.') && isName(tokens[k + 1])) {
    parts.push(tokens[k + 1]!.value);
    k += 2;
  }
  return { parts, next: k };
}

function skipGroup(tokens: readonly SqlToken[], i: number): number {
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    const v = tokens[j]!.type === 'punctuation' ? tokens[j]!.value : '';
    if (v === '(' || v === '[') depth++;
    else if (v === ')' || v === ']') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return tokens.length;
}

function stripExplain(tokens: readonly SqlToken[]): { rest: readonly SqlToken[]; analyze: boolean } {
  let i = 1;
  let analyze = false;
  if (isPunct(tokens[i], '(')) {
    const end = skipGroup(tokens, i);
    for (let j = i + 1; j < end - 1; j++) {
      if (isWord(tokens[j], 'analyze', 'analyse') && (isPunct(tokens[j - 1], '(') || isPunct(tokens[j - 1], ','))) {
        const v = tokens[j + 1];
        analyze = !(v && ['false', 'off', '0', 'no'].includes(v.value.toLowerCase()));
      }
    }
    i = end;
  } else {
    while (isWord(tokens[i], 'analyze', 'analyse', 'verbose')) {
      if (tokens[i]!.value !== 'verbose') analyze = true;
      i++;
    }
  }
  return { rest: tokens.slice(i), analyze };
}

/** Names of CTEs defined anywhere in the statement (`WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (`). */
function cteNames(tokens: readonly SqlToken[]): Set<string> {
  const names = new Set<string>();
  for (let k = 0; k < tokens.length; k++) {
    if (!isWord(tokens[k], 'with')) continue;
    let j = k + 1;
    if (isWord(tokens[j], 'recursive')) j++;
    for (;;) {
      if (!isName(tokens[j])) break;
      const name = tokens[j]!.value;
      j++;
      if (isPunct(tokens[j], '(')) j = skipGroup(tokens, j);
      if (!isWord(tokens[j], 'as')) break;
      j++;
      if (isWord(tokens[j], 'not')) j++;
      if (isWord(tokens[j], 'materialized')) j++;
      if (!isPunct(tokens[j], '(')) break;
      names.add(name);
      j = skipGroup(tokens, j);
      for (const clause of ['search', 'cycle']) {
        if (!isWord(tokens[j], clause)) continue;
        while (j < tokens.length && !isWord(tokens[j], 'set')) j++;
        j += 2;
        if (clause === 'cycle' && isWord(tokens[j], 'to')) j += 4;
        if (clause === 'cycle' && isWord(tokens[j], 'using')) j += 2;
      }
      if (!isPunct(tokens[j], ',')) break;
      j++;
    }
  }
  return names;
}

function scanStatement(tokens: readonly SqlToken[], read: Set<string>, written: Set<string>): void {
  const ctes = cteNames(tokens);
  const add = (set: Set<string>, parts: string[]) => {
    if (parts.length === 1 && ctes.has(parts[0]!)) return;
    set.add(parts.slice(-2).map(quotePart).join('.'));
  };

  /** A table name at `j` (after optional ONLY), added to `set`; returns the index after it. */
  const target = (j: number, set: Set<string>): number => {
    if (isWord(tokens[j], 'only')) j++;
    const n = readName(tokens, j);
    if (!n) return j;
    add(set, n.parts);
    return n.next;
  };

  /** One FROM item at `j`: a table (read), or something else we let the main scan walk into. */
  const fromItem = (j: number): void => {
    if (isWord(tokens[j], 'lateral')) return; // LATERAL function or subquery
    if (isWord(tokens[j], 'only')) j++;
    if (isPunct(tokens[j], '(')) {
      // a parenthesised join `(a JOIN b ON ...)`: its first item; subqueries are scanned anyway
      if (isName(tokens[j + 1]) && !NOT_A_TABLE.has(tokens[j + 1]!.value)) fromItem(j + 1);
      else if (isPunct(tokens[j + 1], '(')) fromItem(j + 1);
      return;
    }
    const t = tokens[j];
    if (!isName(t) || (t!.type === 'word' && NOT_A_TABLE.has(t!.value))) return;
    const n = readName(tokens, j)!;
    if (isPunct(tokens[n.next], '(')) return; // function call
    add(read, n.parts);
  };

  const verbs: (string | undefined)[] = [undefined];
  const fromActive: boolean[] = [false];
  let depth = 0;

  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    const prev = tokens[k - 1];
    if (t.type === 'punctuation') {
      if (t.value === '(' || t.value === '[') {
        depth++;
        verbs[depth] = undefined;
        fromActive[depth] = false;
      } else if (t.value === ')' || t.value === ']') {
        depth = Math.max(0, depth - 1);
      } else if (t.value === ',' && fromActive[depth]) {
        fromItem(k + 1);
      }
      continue;
    }
    if (t.type !== 'word' || isPunct(prev, '.')) continue;
    const next = tokens[k + 1];
    const atStart = prev === undefined || isPunct(prev, '(') || isPunct(prev, ')');

    if (FROM_END.has(t.value)) fromActive[depth] = false;

    switch (t.value) {
      case 'select':
        verbs[depth] = 'select';
        break;
      case 'from': {
        if (isWord(prev, 'distinct')) break; // IS [NOT] DISTINCT FROM
        const v = verbs[depth];
        if (v === 'select' || v === 'update') {
          fromActive[depth] = true;
          fromItem(k + 1);
        }
        break;
      }
      case 'join':
        fromActive[depth] = true;
        fromItem(k + 1);
        break;
      case 'using':
        if ((verbs[depth] === 'delete' || verbs[depth] === 'merge') && !isPunct(next, '(')) {
          fromActive[depth] = verbs[depth] === 'delete';
          fromItem(k + 1);
        }
        break;
      case 'table':
        if (atStart || isWord(prev, 'union', 'intersect', 'except', 'all', 'distinct')) {
          verbs[depth] = 'select';
          target(k + 1, read);
        }
        break;
      case 'insert':
        if (isWord(next, 'into')) {
          verbs[depth] = 'insert';
          target(k + 2, written);
        }
        break;
      case 'merge':
        if (isWord(next, 'into')) {
          verbs[depth] = 'merge';
          target(k + 2, written);
        }
        break;
      case 'delete':
        if (isWord(next, 'from')) {
          verbs[depth] = 'delete';
          target(k + 2, written);
          k++; // the FROM belongs to DELETE
        }
        break;
      case 'update':
        if (atStart && isName(next) && !isWord(next, 'set')) {
          verbs[depth] = 'update';
          target(k + 1, written);
        }
        break;
      case 'into':
        if (verbs[depth] === 'select' && !isWord(prev, 'insert', 'merge')) {
          // SELECT ... INTO [TEMP|TEMPORARY|UNLOGGED] [TABLE] name
          let j = k + 1;
          while (isWord(tokens[j], 'temp', 'temporary', 'unlogged', 'table', 'local', 'global')) j++;
          target(j, written);
        }
        break;
      case 'truncate':
        if (atStart) {
          verbs[depth] = 'truncate';
          let j = k + 1;
          if (isWord(tokens[j], 'table')) j++;
          for (;;) {
            const after = target(j, written);
            if (after === j) break;
            j = isPunct(tokens[after], '*') ? after + 1 : after;
            if (!isPunct(tokens[j], ',')) break;
            j++;
          }
          k = j - 1;
        }
        break;
      case 'copy':
        if (atStart) k = copyStatement(k) - 1;
        break;
      case 'create':
        if (atStart) createStatement(k);
        break;
      case 'alter':
      case 'drop':
        if (atStart) alterOrDrop(k);
        break;
      case 'refresh':
        if (atStart && isWord(next, 'materialized')) {
          let j = k + 3; // REFRESH MATERIALIZED VIEW
          if (isWord(tokens[j], 'concurrently')) j++;
          target(j, written);
        }
        break;
    }
  }

  /** COPY name [(cols)] FROM|TO ... / COPY (query) TO ...; returns where the main scan continues. */
  function copyStatement(k: number): number {
    let j = k + 1;
    if (isPunct(tokens[j], '(')) return j; // the query is scanned like any other
    if (isWord(tokens[j], 'binary')) j++;
    const n = readName(tokens, j);
    if (!n) return j;
    let after = n.next;
    if (isPunct(tokens[after], '(')) after = skipGroup(tokens, after);
    if (isWord(tokens[after], 'from')) add(written, n.parts);
    else if (isWord(tokens[after], 'to')) add(read, n.parts);
    return tokens.length; // nothing else in a COPY names a table
  }

  /** CREATE [OR REPLACE] [GLOBAL|LOCAL] [TEMP|TEMPORARY|UNLOGGED] TABLE|MATERIALIZED VIEW [IF NOT EXISTS] name */
  function createStatement(k: number): void {
    let j = k + 1;
    while (isWord(tokens[j], 'or', 'replace', 'global', 'local', 'temp', 'temporary', 'unlogged')) j++;
    if (isWord(tokens[j], 'table')) j++;
    else if (isWord(tokens[j], 'materialized') && isWord(tokens[j + 1], 'view')) j += 2;
    else return;
    if (isWord(tokens[j], 'if') && isWord(tokens[j + 1], 'not') && isWord(tokens[j + 2], 'exists')) j += 3;
    target(j, written);
  }

  /** ALTER TABLE|VIEW|MATERIALIZED VIEW [IF EXISTS] [ONLY] name / DROP ... [IF EXISTS] a, b */
  function alterOrDrop(k: number): void {
    const isDrop = tokens[k]!.value === 'drop';
    let j = k + 1;
    if (isWord(tokens[j], 'table', 'view')) j++;
    else if (isWord(tokens[j], 'materialized') && isWord(tokens[j + 1], 'view')) j += 2;
    else if (isWord(tokens[j], 'foreign') && isWord(tokens[j + 1], 'table')) j += 2;
    else return;
    if (isWord(tokens[j], 'if') && isWord(tokens[j + 1], 'exists')) j += 2;
    for (;;) {
      const after = target(j, written);
      if (after === j || !isDrop || !isPunct(tokens[after], ',')) break;
      j = after + 1;
    }
  }
}
