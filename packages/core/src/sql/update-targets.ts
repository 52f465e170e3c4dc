import { splitStatements } from './split-statements.js';
import { isName, isPunct, isWord, skipGroup } from './syntax.js';
import type { SqlToken } from './tokenize.js';

/** Words that end a SET list at its nesting level. */
const SET_END = new Set(['from', 'where', 'returning']);

/**
 * Columns a statement assigns with `SET`: of `UPDATE ... SET a = 1, (b, c) = (...)`
 * and of `INSERT ... ON CONFLICT ... DO UPDATE SET ...` (and `MERGE ... UPDATE SET`),
 * in every statement of the text, exact names (`col.field` and `col[i]` count as `col`).
 * A sharded cluster refuses a statement that assigns its key column: the row
 * would have to move to another shard. `col = EXCLUDED.col` in `ON CONFLICT ... DO UPDATE`
 * is not counted (it writes back the value the row was placed by).
 */
export function assignedColumns(sql: string): string[] {
  const out = new Set<string>();
  for (const st of splitStatements(sql)) {
    const t = st.tokens;
    for (let i = 0; i < t.length; i++) {
      if (!isWord(t[i], 'set')) continue;
      // `UPDATE x SET`, `DO UPDATE SET`, `WHEN MATCHED THEN UPDATE SET`: SET right after the target
      // (and alias) of an UPDATE; not `SET search_path`, `ALTER ... SET`, `SET NULL` of a foreign key.
      if (!followsUpdate(t, i)) continue;
      i = readAssignments(t, i + 1, out);
    }
  }
  return [...out];
}

/** `SET` at `i` belongs to an UPDATE: `update [only] name[.name] [*] [[as] alias] set` or `do update set`. */
function followsUpdate(t: readonly SqlToken[], i: number): boolean {
  for (let j = i - 1, steps = 0; j >= 0 && steps < 8; j--, steps++) {
    if (isWord(t[j], 'update')) return !isWord(t[j - 1], 'for', 'key', 'no', 'on'); // not FOR [NO KEY] UPDATE, ON UPDATE SET NULL
    if (isName(t[j]) || isPunct(t[j], '.') || (t[j]!.type === 'operator' && t[j]!.value === '*')) continue;
    return false;
  }
  return false;
}

/** Reads `col = expr, (a, b) = (...), ...` from `i`; adds the columns; returns where it stopped. */
function readAssignments(t: readonly SqlToken[], i: number, out: Set<string>): number {
  let j = i;
  while (j < t.length) {
    if (isPunct(t[j], '(')) {
      const close = skipGroup(t, j) - 1;
      for (let k = j + 1; k < close; k++) {
        if (isName(t[k]) && (isPunct(t[k - 1], '(') || isPunct(t[k - 1], ','))) out.add(t[k]!.value);
      }
      j = close + 1;
    } else if (isName(t[j])) {
      // `col = EXCLUDED.col` (an upsert writing back the proposed value) assigns nothing new: the
      // inserted row was placed by that very value.
      const same =
        t[j + 1]?.value === '=' &&
        isWord(t[j + 2], 'excluded') &&
        isPunct(t[j + 3], '.') &&
        t[j + 4]?.value === t[j]!.value &&
        (t[j + 5] === undefined || isPunct(t[j + 5], ',') || (isWord(t[j + 5]) && SET_END.has(t[j + 5]!.value)));
      if (!same) out.add(t[j]!.value);
      j++;
    } else return j;
    // skip to the next top-level comma (the assigned expression), or the end of the SET list
    let cases = 0;
    for (; j < t.length; j++) {
      if (isPunct(t[j], '(') || isPunct(t[j], '[')) j = skipGroup(t, j) - 1;
      else if (isWord(t[j], 'case')) cases++;
      else if (isWord(t[j], 'end') && cases > 0) cases--;
      else if (cases > 0) continue;
      else if (isPunct(t[j], ',')) break;
      else if (isWord(t[j]) && SET_END.has(t[j]!.value)) return j;
      else if (isWord(t[j], 'when') || isPunct(t[j], ';')) return j;
    }
    j++;
  }
  return j;
}
