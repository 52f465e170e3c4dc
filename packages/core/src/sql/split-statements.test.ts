import { describe, expect, it } from 'vitest';
import { splitStatements } from './split-statements.js';

const texts = (sql: string) => splitStatements(sql).map((s) => s.text);

describe('splitStatements', () => {
  it('splits on top-level semicolons only', () => {
    expect(texts('SELECT 1; SELECT \';\' ; SELECT $$;$$; SELECT "a;b" /* ; */ -- ;\n; SELECT 2')).toEqual([
      'SELECT 1',
      "SELECT ';'",
      'SELECT $$;$$',
      'SELECT "a;b"',
      'SELECT 2',
    ]);
  });

  it('drops empty statements and comment-only text', () => {
    expect(texts(';;  ; -- nothing\n /* x */')).toEqual([]);
    expect(texts('')).toEqual([]);
    expect(texts('SELECT 1;')).toEqual(['SELECT 1']);
  });

  it('keeps BEGIN ATOMIC bodies of SQL functions together', () => {
    const sql = `CREATE OR REPLACE FUNCTION f(x int) RETURNS int LANGUAGE sql
      BEGIN ATOMIC
        SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;
        SELECT x;
      END; SELECT f(1)`;
    const parts = splitStatements(sql);
    expect(parts).toHaveLength(2);
    expect(parts[0]!.text.endsWith('END')).toBe(true);
    expect(parts[1]!.text).toBe('SELECT f(1)');
  });

  it('does not treat transaction BEGIN as a block', () => {
    expect(texts('BEGIN; UPDATE t SET a = 1; END;')).toEqual(['BEGIN', 'UPDATE t SET a = 1', 'END']);
  });

  it('reports offsets and tokens without comments', () => {
    const sql = 'SELECT 1 /* c */;\n  DELETE FROM t';
    const [a, b] = splitStatements(sql);
    expect(a!.tokens.map((t) => t.value)).toEqual(['select', '1']);
    expect(sql.slice(b!.start, b!.end)).toBe('DELETE FROM t');
  });
});
