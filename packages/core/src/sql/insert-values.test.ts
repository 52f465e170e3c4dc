import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildInsertRows, parseInsertValues } from './insert-values.js';

describe('parseInsertValues', () => {
  it('reads the table, columns and every row with its cells', () => {
    const p = parseInsertValues(
      `INSERT INTO app."Orders" AS o (user_id, "Note", total) VALUES ($1, 'a,b', 3), (-7::int8, NULL, now()), ($2::text, DEFAULT, $1) RETURNING *`,
    )!;
    expect(p.table).toEqual({ schema: 'app', name: 'Orders' });
    expect(p.columns).toEqual(['user_id', 'Note', 'total']);
    expect(p.rows.map((r) => r.cells)).toEqual([
      [
        { kind: 'param', index: 1 },
        { kind: 'literal', value: 'a,b', numeric: false },
        { kind: 'literal', value: '3', numeric: true },
      ],
      [{ kind: 'literal', value: '-7', numeric: true }, { kind: 'null' }, { kind: 'expression' }],
      [{ kind: 'param', index: 2 }, { kind: 'default' }, { kind: 'param', index: 1 }],
    ]);
  });

  it('is undefined for what cannot be split by rows', () => {
    for (const sql of [
      'INSERT INTO t SELECT * FROM u',
      'INSERT INTO t DEFAULT VALUES',
      'WITH x AS (SELECT 1) INSERT INTO t VALUES (1)',
      'INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)',
      "INSERT INTO t VALUES ('unterminated)",
      'INSERT INTO t VALUES (1) UNION SELECT 2',
      'UPDATE t SET a = 1',
      'INSERT INTO t (a.b) VALUES (1)',
    ]) {
      expect(parseInsertValues(sql), sql).toBeUndefined();
    }
  });

  it('treats expressions in the key position as expressions, casts as values', () => {
    const p = parseInsertValues(`INSERT INTO t (k) VALUES ($1 + 1), ('x'::varchar(10)), ((SELECT 1)), (E'\\n')`)!;
    expect(p.rows.map((r) => r.cells[0])).toEqual([
      { kind: 'expression' },
      { kind: 'literal', value: 'x', numeric: false },
      { kind: 'expression' },
      { kind: 'literal', value: '\n', numeric: false },
    ]);
    expect(p.columns).toEqual(['k']);
  });
});

describe('buildInsertRows', () => {
  it('keeps the chosen rows and renumbers their parameters from $1', () => {
    const sql =
      'INSERT INTO t (k, v) VALUES ($1, $2), ($3, $4), ($5, $2) ON CONFLICT (k) DO UPDATE SET v = $6 RETURNING k';
    const p = parseInsertValues(sql)!;
    const params = ['a', 'b', 'c', 'd', 'e', 'f'];
    expect(buildInsertRows(sql, p.rows, [1], params)).toEqual({
      text: 'INSERT INTO t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = $3 RETURNING k',
      values: ['c', 'd', 'f'],
    });
    expect(buildInsertRows(sql, p.rows, [2, 0], params)).toEqual({
      text: 'INSERT INTO t (k, v) VALUES ($1, $2), ($3, $2) ON CONFLICT (k) DO UPDATE SET v = $4 RETURNING k',
      values: ['e', 'b', 'a', 'f'],
    });
    // `$1` inside a string is no parameter.
    const lit = "INSERT INTO t VALUES ('$1', $2), ($1, '$2')";
    expect(buildInsertRows(lit, parseInsertValues(lit)!.rows, [0, 1], [1, 2])).toEqual({
      text: "INSERT INTO t VALUES ('$1', $1), ($2, '$2')",
      values: [2, 1],
    });
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
          const p = parseInsertValues(sql)!;
          const groups = new Map<number, number[]>();
          rows.forEach((_, i) => {
            const g = Math.abs((seed + i * 7919) % shards);
            groups.set(g, [...(groups.get(g) ?? []), i]);
          });
          const seen: Array<[number, string]> = [];
          for (const idx of groups.values()) {
            const built = buildInsertRows(sql, p.rows, idx, params);
            const again = parseInsertValues(built.text)!;
            expect(again.rows.length).toBe(idx.length);
            expect(built.values.length).toBe(2 * idx.length);
            for (const r of again.rows) {
              const [k, v] = r.cells as Array<{ kind: 'param'; index: number }>;
              seen.push([built.values[k!.index - 1] as number, built.values[v!.index - 1] as string]);
            }
          }
          expect(seen.sort()).toEqual([...rows].sort());
        },
      ),
    );
  });
});
