import { tokenizeSql } from '@pg-multiverse/core';

/** Clause words that end a WHERE (or the FROM list / target) at the statement's own level. */
const CLAUSE_END = new Set([
  'where',
  'group',
  'having',
  'window',
  'order',
  'limit',
  'offset',
  'fetch',
  'for',
  'returning',
]);

/**
 * The per-shard text of a fan-out with `pred` (the shard's partition filter: only the rows of the
 * partitions it owns) ANDed into the statement's own WHERE, or a reason it cannot be filtered
 * correctly. Only statements over exactly one table, referenced once, with no set operation, join,
 * WITH, FROM/USING list of several items are filtered: there the unqualified key column of the
 * predicate can only be that table's. Anything else is refused by the caller, never run unfiltered.
 */
export function withStrayFilter(
  text: string,
  pred: string,
  tables: readonly string[],
): { text: string } | { refused: string } {
  if (tables.length !== 1) {
    return { refused: `a statement over ${tables.length === 0 ? 'no table' : 'several tables'}` };
  }
  const tokens = tokenizeSql(text);
  let depth = 0;
  let where = -1;
  let end = text.length;
  let seenBody = false;
  let tableRefs = 0;
  let fromList = false;
  const last = tables[0]!.split('.').pop()!.replace(/^"|"$/g, '');
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === 'punctuation' && (t.value === '(' || t.value === '[')) depth++;
    else if (t.type === 'punctuation' && (t.value === ')' || t.value === ']')) depth--;
    if ((t.type === 'word' || t.type === 'quoted_identifier') && t.value === last) tableRefs++;
    if (depth !== 0) continue;
    if (t.type === 'word') {
      if (i === 0 && t.value === 'with') return { refused: 'a WITH statement' };
      if (['union', 'intersect', 'except'].includes(t.value)) return { refused: 'a set operation (UNION, ...)' };
      if (['join', 'using'].includes(t.value)) return { refused: 'a join' };
      if (t.value === 'from' || t.value === 'update') seenBody = true;
      if (t.value === 'from') fromList = true;
      else if (t.value === 'set' || CLAUSE_END.has(t.value)) fromList = false;
      if (t.value === 'from' && tokens[0]!.value === 'update') return { refused: 'an UPDATE ... FROM' };
      if (t.value === 'for' && seenBody) return { refused: 'a locking clause (FOR UPDATE/SHARE)' };
      if (seenBody && where < 0 && t.value === 'where') {
        where = i;
        continue;
      }
      if (seenBody && CLAUSE_END.has(t.value) && !(where >= 0 && t.value === 'where')) {
        if (where >= 0 || t.value !== 'where') {
          end = t.start;
          break;
        }
      }
    } else if (t.type === 'punctuation' && t.value === ',' && fromList) {
      return { refused: 'a FROM list of several items' };
    } else if (t.type === 'punctuation' && t.value === ';') {
      end = t.start;
      break;
    }
  }
  if (!seenBody) return { refused: 'a statement without FROM' };
  if (tableRefs !== 1) return { refused: `a statement that names its table "${last}" more than once` };
  // Cut after the last token before the clause that follows, so that a trailing `--` comment
  // never swallows the predicate (comments there are dropped).
  let cut = 0;
  for (const t of tokens) if (t.start < end) cut = t.end;
  const rest = text.slice(end);
  if (where >= 0) {
    const w = tokens[where]!;
    return { text: `${text.slice(0, w.end)} (${text.slice(w.end, cut).trim()}) AND ${pred}${rest ? ` ${rest}` : ''}` };
  }
  return { text: `${text.slice(0, cut)} WHERE ${pred}${rest ? ` ${rest}` : ''}` };
}
