import { isPunct, isWord, skipGroup } from './syntax.js';
import type { SqlToken } from './tokenize.js';

export interface ExplainPrefix {
  /** The explained statement is executed (`ANALYZE`): its effects are real. */
  analyze: boolean;
  /** Index of the explained statement's first token. */
  body: number;
}

const OFF = new Set(['false', 'off', 'no']);

/**
 * Parses the options of `EXPLAIN [ (option [value], ...) | ANALYZE VERBOSE ... ]`,
 * `i` just past `EXPLAIN`. The one home of "does this EXPLAIN execute?".
 * Conservative: the statement counts as executed when any ANALYZE option is
 * not explicitly off (`false`, `off` or `no` as a word, string or quoted
 * identifier, or the number `0`), so `(ANALYZE, ANALYZE off)` counts as
 * executed although PostgreSQL lets the last option win: a write sent to the
 * primary, or a cache invalidated for nothing, is safe; the reverse is not.
 */
export function parseExplain(tokens: readonly SqlToken[], i: number): ExplainPrefix {
  let analyze = false;
  if (isPunct(tokens[i], '(')) {
    const end = skipGroup(tokens, i);
    let j = i + 1;
    while (j < end - 1) {
      const name = tokens[j];
      const value = tokens[j + 1];
      if (isWord(name, 'analyze', 'analyse')) {
        const off =
          value !== undefined &&
          (value.type === 'number'
            ? value.value === '0'
            : (value.type === 'word' || value.type === 'string' || value.type === 'quoted_identifier') &&
              OFF.has(value.value.toLowerCase()));
        if (!off) analyze = true;
      }
      // advance to the next option
      while (j < end - 1 && !isPunct(tokens[j], ',')) j = isPunct(tokens[j], '(') ? skipGroup(tokens, j) : j + 1;
      j++;
    }
    return { analyze, body: end };
  }
  while (isWord(tokens[i], 'analyze', 'analyse', 'verbose')) {
    if (tokens[i]!.value !== 'verbose') analyze = true;
    i++;
  }
  return { analyze, body: i };
}
