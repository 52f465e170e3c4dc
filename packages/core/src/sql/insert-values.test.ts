import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildInsertRows } from './insert-values.js';
import { analyzeShardKey } from './shard-key.js';

const rowsOf = (sql: string) => analyzeShardKey(sql, 'k').insert!.rows;

describe('buildInsertRows', () => {
  it('keeps the chosen rows and renumbers their parameters from $1', () => {
    const sql =
      'INSERT INTO t (k, v) VALUES ($1, $2), ($3, $4), ($5, $2) ON CONFLICT (k) DO UPDATE SET v = $6 RETURNING k';
    const params = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect(buildInsertRows(sql, rowsOf(sql), [1], params)).toEqual({
      text: 'INSERT INTO t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = $3 RETURNING k',
      values: ['c', 'd', 'f'],
    });
    expect(buildInsertRows(sql, rowsOf(sql), [2, 0], params)).toEqual({
      text: 'INSERT INTO t (k, v) VALUES ($1, $2), ($3, $2) ON CONFLICT (k) DO UPDATE SET v = $4 RETURNING k',
      values: ['e', 'b', 'a', 'f'],
    });
    // `$1` inside a string or a comment is no parameter.
    const lit = "INSERT INTO t (k, v) VALUES ('$1', $2) /* $1 */, ($1, '$2')";
    expect(buildInsertRows(lit, rowsOf(lit), [0, 1], [1, 2])).toEqual({
      text: "INSERT INTO t (k, v) VALUES ('$1', $1), ($2, '$2')",
      values: [2, 1],
    });
    expect(() => buildInsertRows(lit, rowsOf(lit), [], [])).toThrow(/no rows/);
  });

  it('any split of the rows, put back together, has every row once with its own values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer(), fc.string()), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer(),
        (rows, shards, seed) => {
          const sql = `INSERT INTO t (k, v) VALUES ${rows.map((_, i) => `($${2 * i + 1}, $${2 * i + 2})`).join(', ')}`;
          const params = rows.flat();
          const groups = new Map<number, number[]>();
          rows.forEach((_, i) => {
            const g = Math.abs((seed + i * 7919) % shards);
            groups.set(g, [...(groups.get(g) ?? []), i]);
          });
          const seen: Array<[number, string]> = [];
          for (const idx of groups.values()) {
            const built = buildInsertRows(sql, rowsOf(sql), idx, params);
            const again = analyzeShardKey(built.text, 'k').insert!;
            expect(again.rows.length).toBe(idx.length);
            expect(built.values.length).toBe(2 * idx.length);
            for (const r of again.rows) {
              const tuple = built.text.slice(r.start + 1, r.end - 1).split(', ');
              const [k, v] = tuple.map((x) => Number(x.slice(1)));
              seen.push([built.values[k! - 1] as number, built.values[v! - 1] as string]);
            }
          }
          expect(seen.sort()).toEqual([...rows].sort());
        },
      ),
    );
  });
});
