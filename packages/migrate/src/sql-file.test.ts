import { describe, expect, it } from 'vitest';
import { parseSqlMigration } from './sql-file.js';

describe('parseSqlMigration', () => {
  it('reads up/down sections and header directives, with CRLF line endings', () => {
    const p = parseSqlMigration(
      '-- pgm:targetSchemas users, auth\r\n-- pgm:transaction false\r\n-- pgm:description Add index\r\n-- up\r\nCREATE INDEX CONCURRENTLY i ON t (x);\r\n-- down\r\nDROP INDEX CONCURRENTLY i;\r\n',
    );
    expect(p).toMatchObject({
      targetSchemas: ['users', 'auth'],
      transaction: false,
      description: 'Add index',
      up: 'CREATE INDEX CONCURRENTLY i ON t (x);',
      down: 'DROP INDEX CONCURRENTLY i;',
    });
  });
  it('treats a file without markers as the up section only', () => {
    expect(parseSqlMigration('CREATE TABLE t (id int);')).toEqual({ up: 'CREATE TABLE t (id int);' });
  });
  it('names the file in errors', () => {
    expect(() => parseSqlMigration('-- up\n-- down\nDROP TABLE t;', 'x.sql')).toThrow(/x\.sql: no SQL/);
    expect(() => parseSqlMigration('-- pgm:bogus 1\nSELECT 1', 'y.sql')).toThrow(/y\.sql: unknown directive/);
    expect(() => parseSqlMigration('-- pgm:transaction maybe\nSELECT 1', 'z.sql')).toThrow(/true or false/);
  });
});
