import { describe, expect, it } from 'vitest';
import { assignedColumns } from './update-targets.js';

describe('assignedColumns', () => {
  it('lists the columns an UPDATE, ON CONFLICT DO UPDATE or MERGE assigns', () => {
    const rows: Array<[string, string[]]> = [
      ['UPDATE t SET a = 1, "B" = $2 WHERE c = 3', ['a', 'B']],
      ['UPDATE ONLY s.t AS x SET (a, b) = (1, 2), c = (SELECT 1, 2) FROM u WHERE x.id = u.id', ['a', 'b', 'c']],
      ['UPDATE t x SET a = CASE WHEN b THEN 1 ELSE 2 END, user_id = 7', ['a', 'user_id']],
      ['UPDATE t SET p.x = 1, arr[2] = 3 RETURNING *', ['p', 'arr']],
      ['INSERT INTO t (k, v) VALUES (1, 2) ON CONFLICT (k) DO UPDATE SET v = excluded.v, w = 2', ['w']],
      ['INSERT INTO t (k, v) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET k = EXCLUDED.k, v = 1', ['v']],
      ['INSERT INTO t (k, v) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET k = excluded.v', ['k']],
      ['INSERT INTO t (k, v) VALUES (1, 2) ON CONFLICT (id) DO UPDATE SET k = excluded.k + 1', ['k']],
      ['WITH d AS (UPDATE t SET k = 2 RETURNING *) SELECT * FROM d', ['k']],
      [
        'MERGE INTO t USING s ON t.k = s.k WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN DO NOTHING',
        ['v'],
      ],
      ["SET search_path = 'x'", []],
      ['ALTER TABLE t ALTER COLUMN k SET DEFAULT 1', []],
      ['SELECT * FROM t FOR UPDATE', []],
      ["SELECT 'UPDATE t SET k = 1'", []],
      ['CREATE TABLE t (k int REFERENCES u ON UPDATE SET NULL)', []],
    ];
    for (const [sql, cols] of rows) expect(assignedColumns(sql), sql).toEqual(cols);
  });
});
