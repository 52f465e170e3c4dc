import { describe, expect, it } from 'vitest';
import { splitSql } from './split-sql.js';

describe('splitSql', () => {
  it('splits on top-level semicolons only', () => {
    expect(splitSql('CREATE TABLE a (x int); CREATE INDEX CONCURRENTLY i ON a (x);')).toEqual([
      'CREATE TABLE a (x int)',
      'CREATE INDEX CONCURRENTLY i ON a (x)',
    ]);
  });
  it('keeps semicolons inside strings, identifiers, dollar quotes and comments', () => {
    const sql = `INSERT INTO t VALUES ('a;b', E'c\\';d');
SELECT "we;ird" FROM t; -- trailing; comment
DO $fn$ BEGIN PERFORM 1; END $fn$;
/* block; /* nested; */ still */ SELECT $$x;y$$`;
    const parts = splitSql(sql);
    expect(parts).toHaveLength(4);
    expect(parts[0]).toBe("INSERT INTO t VALUES ('a;b', E'c\\';d')");
    expect(parts[2]).toMatch(/DO \$fn\$ BEGIN PERFORM 1; END \$fn\$$/);
    expect(parts[3]).toContain('SELECT $$x;y$$');
  });
  it('drops empty and comment-only statements', () => {
    expect(splitSql(';; -- nothing\n/* */ ;')).toEqual([]);
  });
  it('does not treat $1 parameters as dollar quotes', () => {
    expect(splitSql('SELECT $1; SELECT 2')).toEqual(['SELECT $1', 'SELECT 2']);
  });
});
