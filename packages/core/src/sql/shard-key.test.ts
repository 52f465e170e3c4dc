import { describe, expect, it } from 'vitest';
import { analyzeShardKey } from './shard-key.js';

const values = (sql: string) => analyzeShardKey(sql, 'user_id').values;

describe('analyzeShardKey', () => {
  it.each([
    ['SELECT * FROM orders WHERE user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM orders WHERE $2 = user_id AND total > 3', [{ param: 2 }]],
    ["SELECT * FROM orders WHERE user_id = '42'", [{ literal: '42' }]],
    ['SELECT * FROM orders WHERE user_id = -7', [{ literal: '-7' }]],
    ['SELECT * FROM orders WHERE user_id = $1::int8', [{ param: 1 }]],
    [
      "SELECT * FROM orders WHERE user_id = uuid 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'",
      [{ literal: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11' }],
    ],
    ['SELECT * FROM orders WHERE CAST($1 AS bigint) = user_id', [{ param: 1 }]],
    ['SELECT * FROM orders WHERE user_id IN ($1, $2, 5)', [{ param: 1 }, { param: 2 }, { literal: '5' }]],
    ['SELECT * FROM orders WHERE user_id = ANY($1)', [{ param: 1, array: true }]],
    ['SELECT * FROM orders WHERE (user_id = 1 OR user_id = 2) AND x', [{ literal: '1' }, { literal: '2' }]],
    ['SELECT * FROM orders o WHERE o.user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM app.orders AS o WHERE o.user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM app.orders WHERE orders.user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM app.orders WHERE app.orders.user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM "Orders" WHERE "user_id" = $1', [{ param: 1 }]],
    ['SELECT * FROM orders o JOIN users u ON u.user_id = o.user_id WHERE o.user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM orders o JOIN users u ON u.user_id = o.user_id AND u.user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM orders o JOIN users u USING (user_id) WHERE u.user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM orders o, users u WHERE o.user_id = u.user_id AND u.user_id = 3', [{ literal: '3' }]],
    ['SELECT * FROM users u LEFT JOIN orders o ON o.user_id = u.user_id WHERE u.user_id = $1', [{ param: 1 }]],
    ['SELECT * FROM (SELECT * FROM orders WHERE user_id = $1) s', [{ param: 1 }]],
    [
      'SELECT * FROM orders WHERE user_id = $1 AND id IN (SELECT id FROM items i WHERE i.user_id = orders.user_id)',
      [{ param: 1 }],
    ],
    ['WITH mine AS (SELECT * FROM orders WHERE user_id = $1) SELECT count(*) FROM mine', [{ param: 1 }]],
    ['SELECT * FROM orders WHERE user_id = $1 AND created BETWEEN $2 AND $3', [{ param: 1 }]],
    ['UPDATE orders SET total = total + 1 WHERE user_id = $2', [{ param: 2 }]],
    ['UPDATE app.orders o SET total = 1 FROM items i WHERE i.user_id = o.user_id AND o.user_id = $1', [{ param: 1 }]],
    ['DELETE FROM orders WHERE user_id = $1 RETURNING *', [{ param: 1 }]],
    ['DELETE FROM orders o USING items i WHERE o.user_id = i.user_id AND i.user_id = 9', [{ literal: '9' }]],
    ['INSERT INTO orders (id, user_id, total) VALUES ($1, $2, $3)', [{ param: 2 }]],
    ["INSERT INTO app.orders (user_id, total) VALUES ($1, 1), ('7', 2) RETURNING id", [{ param: 1 }, { literal: '7' }]],
    ['EXPLAIN SELECT * FROM orders WHERE user_id = $1', [{ param: 1 }]],
    ['SELECT 1', []],
    ['SELECT * FROM generate_series(1, 3)', []],
  ])('%s', (sql, expected) => {
    expect(values(sql)).toEqual(expected);
  });

  it.each([
    'SELECT * FROM orders',
    'SELECT * FROM orders WHERE user_id = $1 OR total > 5',
    'SELECT * FROM orders WHERE NOT user_id = $1',
    'SELECT * FROM orders WHERE user_id = $1 + 1',
    'SELECT * FROM orders WHERE user_id > $1',
    'SELECT * FROM orders WHERE user_id IN (SELECT user_id FROM vip)',
    'SELECT * FROM orders o JOIN users u ON o.x = u.x WHERE o.user_id = $1',
    'SELECT * FROM users u LEFT JOIN orders o ON o.user_id = $1',
    'SELECT * FROM orders o, users u WHERE u.user_id = 3',
    'SELECT * FROM orders WHERE user_id = $1 AND EXISTS (SELECT 1 FROM audit)',
    'SELECT * FROM orders WHERE user_id = $1 UNION SELECT * FROM orders',
    'SELECT * FROM (SELECT * FROM orders) s WHERE s.user_id = 1',
    'SELECT * FROM orders AS o(a, user_id) WHERE o.user_id = 1',
    'WITH RECURSIVE r AS (SELECT 1 UNION ALL SELECT 1 FROM r) SELECT * FROM orders, r WHERE orders.user_id = 1',
    'WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d WHERE user_id = 1',
    "SELECT * FROM orders WHERE note = 'user_id = 1'",
    'SELECT * FROM orders -- WHERE user_id = 1',
    'INSERT INTO orders SELECT * FROM staging WHERE user_id = 1',
    'INSERT INTO orders (id, user_id) VALUES (1, $1 + 1)',
    'INSERT INTO orders VALUES (1, 2)',
    'UPDATE orders SET user_id = 5',
    'SELECT 1; SELECT * FROM orders WHERE user_id = 1',
    'CREATE TABLE t (user_id int8)',
    'SELECT * FROM orders WHERE x BETWEEN 1 AND user_id = 5',
    'SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY n) FROM orders',
    'SELECT mode() WITHIN GROUP (ORDER BY n) FROM orders WHERE n > 1',
  ])('not confined: %s', (sql) => {
    expect(values(sql)).toBeUndefined();
  });

  it('UNION branches each confined: the union of their values', () => {
    expect(values('SELECT * FROM a WHERE user_id = 1 UNION ALL SELECT * FROM b WHERE user_id = $1')).toEqual([
      { literal: '1' },
      { param: 1 },
    ]);
  });

  it('reports INSERT rows with offsets, the key column and UPDATE of the key', () => {
    const sql = 'INSERT INTO s.t (a, user_id) VALUES ($1, $2), (3, DEFAULT) RETURNING *';
    const a = analyzeShardKey(sql, 'user_id');
    expect(a.values).toBeUndefined();
    expect(a.insert).toMatchObject({ table: 's.t', columns: ['a', 'user_id'], keyColumn: 1 });
    expect(a.insert!.rows.map((r) => [sql.slice(r.start, r.end), r.key])).toEqual([
      ['($1, $2)', { param: 2 }],
      ['(3, DEFAULT)', undefined],
    ]);
    expect(sql.slice(a.insert!.valuesStart, a.insert!.valuesEnd)).toBe('($1, $2), (3, DEFAULT)');
    expect(analyzeShardKey('UPDATE t SET a = 1, user_id = $1 WHERE user_id = $2', 'user_id').updatesKey).toBe(true);
    expect(analyzeShardKey('UPDATE t SET a = 1 WHERE user_id = $2', 'user_id').updatesKey).toBe(false);
  });

  it('colocated: one table, or tables joined on the key', () => {
    const co = (sql: string) => analyzeShardKey(sql, 'user_id').colocated;
    expect(co('SELECT * FROM orders')).toBe(true);
    expect(co('SELECT * FROM orders o JOIN users u ON o.user_id = u.user_id')).toBe(true);
    expect(co('SELECT * FROM orders o JOIN users u ON o.x = u.x')).toBe(false);
    expect(co('SELECT * FROM orders WHERE x IN (SELECT x FROM y)')).toBe(false);
  });
});
