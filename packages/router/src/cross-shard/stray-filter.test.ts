import { describe, expect, it } from 'vitest';
import { withStrayFilter } from './stray-filter.js';

const P = '(P)';
const f = (sql: string, tables = ['items']) => withStrayFilter(sql, P, tables);

describe('withStrayFilter', () => {
  it('ANDs the predicate with the statement own WHERE, keeping its OR together', () => {
    expect(f('SELECT count(*) FROM items WHERE a = 1 OR b = 2 GROUP BY c ORDER BY c LIMIT 3')).toEqual({
      text: 'SELECT count(*) FROM items WHERE (a = 1 OR b = 2) AND (P) GROUP BY c ORDER BY c LIMIT 3',
    });
    expect(f('DELETE FROM s.items AS i WHERE i.v < $1 RETURNING *', ['s.items'])).toEqual({
      text: 'DELETE FROM s.items AS i WHERE (i.v < $1) AND (P) RETURNING *',
    });
    expect(f("SELECT v FROM items WHERE v IN (SELECT 1 WHERE true ORDER BY 1) AND t = 'where'")).toEqual({
      text: "SELECT v FROM items WHERE (v IN (SELECT 1 WHERE true ORDER BY 1) AND t = 'where') AND (P)",
    });
  });

  it('adds a WHERE where there is none', () => {
    expect(f('SELECT v FROM items i ORDER BY v DESC LIMIT 5')).toEqual({
      text: 'SELECT v FROM items i WHERE (P) ORDER BY v DESC LIMIT 5',
    });
    expect(f('UPDATE items SET v = v + 1, w = 2 RETURNING v')).toEqual({
      text: 'UPDATE items SET v = v + 1, w = 2 WHERE (P) RETURNING v',
    });
    expect(f('DELETE FROM items;')).toEqual({ text: 'DELETE FROM items WHERE (P) ;' });
    // A trailing line comment does not swallow the predicate.
    expect(f('SELECT v FROM items -- all\n')).toEqual({ text: 'SELECT v FROM items WHERE (P)' });
    expect(f('SELECT v FROM items WHERE v > 1 -- big\nORDER BY v')).toEqual({
      text: 'SELECT v FROM items WHERE (v > 1) AND (P) ORDER BY v',
    });
  });

  it('refuses what it cannot filter per table, naming it', () => {
    const refused = (sql: string, tables = ['items']) => (f(sql, tables) as { refused: string }).refused;
    expect(refused('SELECT * FROM items a JOIN items b USING (k)')).toMatch(/a join|more than once/);
    expect(refused('SELECT * FROM items, other', ['items', 'other'])).toBe('a statement over several tables');
    expect(refused('SELECT * FROM items i, generate_series(1, 2) g')).toBe('a FROM list of several items');
    expect(refused('SELECT 1 FROM items UNION ALL SELECT 2 FROM items')).toMatch(/set operation/);
    expect(refused('WITH x AS (SELECT 1) SELECT * FROM items')).toBe('a WITH statement');
    expect(refused('UPDATE items SET v = o.v FROM o WHERE o.k = items.k')).toMatch(/UPDATE \.\.\. FROM|several/);
    expect(refused('SELECT * FROM items FOR UPDATE')).toMatch(/locking clause/);
  });
});
