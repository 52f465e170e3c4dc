import { parseExplain } from './explain.js';
import { FROM_LIST_END, isName, isPunct, isWord, quotePart, readName, skipGroup, statementStart } from './syntax.js';
import type { SqlToken } from './tokenize.js';
import { cteNames } from './with-clause.js';

/** Tables one statement reads and writes (see `analyzeSql`). */
export interface StatementTables {
  read: string[];
  written: string[];
}

/**
 * Tables one statement (comment-free tokens) reads and writes, as written:
 * `table` or `schema.table` (of `db.schema.table` the last two parts), each
 * part printed like PostgreSQL's quote_ident. Deduplicated, in order of
 * appearance. CTE names are not tables; function calls are not tables.
 * EXPLAIN that does not execute its statement writes nothing: the tables the
 * statement would write are reported as read.
 */
export function statementTables(tokens: readonly SqlToken[]): StatementTables {
  const start = statementStart(tokens);
  let explainOnly = false;
  if (isWord(tokens[start], 'explain')) {
    const { analyze, body } = parseExplain(tokens, start + 1);
    tokens = tokens.slice(body);
    explainOnly = !analyze;
  }
  const read = new Set<string>();
  const written = new Set<string>();
  scanTables(tokens, read, written);
  if (explainOnly) {
    for (const n of written) read.add(n);
    written.clear();
  }
  return { read: [...read], written: [...written] };
}

/** Words that end a FROM list at their nesting level. */
const FROM_END = new Set<string>([...FROM_LIST_END, 'set', 'when', 'into', 'values', 'select']);

/** Words that cannot be a table name right after FROM/JOIN/INTO (they start something else). */
const NOT_A_TABLE = new Set(['select', 'values', 'with', 'lateral', 'only', 'table', 'rows']);

function scanTables(tokens: readonly SqlToken[], read: Set<string>, written: Set<string>): void {
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
