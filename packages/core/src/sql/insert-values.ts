import { iterateSqlTokens, type SqlToken } from './tokenize.js';

/**
 * A multi-row `INSERT ... VALUES` cut down to some of its rows, so a sharded cluster can send
 * each shard only its rows. The rows' offsets come from `analyzeShardKey(sql, key).insert`.
 */

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
