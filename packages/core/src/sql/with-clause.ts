import { isName, isPunct, isWord, skipGroup } from './syntax.js';
import type { SqlToken } from './tokenize.js';

export interface WithClause {
  /** Names of the CTEs defined, in order (those parsed before any malformed part). */
  names: string[];
  /** Index of the main statement after the CTE list, or -1 when the list is malformed or nothing follows. */
  main: number;
}

/**
 * Parses `WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (...)
 * [SEARCH ... SET col] [CYCLE ... SET col [TO v DEFAULT v] [USING col]], ...`
 * with `WITH` at index `i`. The one home of the CTE syntax: the read/write
 * classification takes `main` (the statement the CTEs feed), the table
 * extraction takes `names` (CTE names are not tables).
 */
export function parseWithClause(tokens: readonly SqlToken[], i: number): WithClause {
  const names: string[] = [];
  let j = i + 1;
  if (isWord(tokens[j], 'recursive')) j++;
  for (;;) {
    if (!isName(tokens[j])) return { names, main: -1 };
    const name = tokens[j]!.value;
    j++;
    if (isPunct(tokens[j], '(')) j = skipGroup(tokens, j);
    if (!isWord(tokens[j], 'as')) return { names, main: -1 };
    j++;
    if (isWord(tokens[j], 'not')) j++;
    if (isWord(tokens[j], 'materialized')) j++;
    if (!isPunct(tokens[j], '(')) return { names, main: -1 };
    names.push(name);
    j = skipGroup(tokens, j);
    if (isWord(tokens[j], 'search')) {
      while (j < tokens.length && !isWord(tokens[j], 'set')) j++;
      j += 2; // SET column
    }
    if (isWord(tokens[j], 'cycle')) {
      while (j < tokens.length && !isWord(tokens[j], 'set')) j++;
      j += 2; // SET column
      if (isWord(tokens[j], 'to')) j += 4; // TO value DEFAULT value
      if (isWord(tokens[j], 'using')) j += 2; // USING column
    }
    if (isPunct(tokens[j], ',')) {
      j++;
      continue;
    }
    return { names, main: j < tokens.length ? j : -1 };
  }
}

/** Names of the CTEs defined anywhere in a statement (nested WITH lists included). */
export function cteNames(tokens: readonly SqlToken[]): Set<string> {
  const names = new Set<string>();
  for (let k = 0; k < tokens.length; k++) {
    if (!isWord(tokens[k], 'with')) continue;
    for (const n of parseWithClause(tokens, k).names) names.add(n);
  }
  return names;
}
