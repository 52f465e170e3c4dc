import { describe, expect, it } from 'vitest';
import { tableTag, tagsFor, writeTags } from './tags.js';

describe('tags', () => {
  it('adds schema and table tags to the caller tags', () => {
    const tags = tagsFor({ schema: 'users', sql: 'SELECT * FROM accounts JOIN orders.items ON true', tags: ['mine'] });
    expect(tags).toEqual(
      expect.arrayContaining(['mine', 'schema:users', 'table:users.accounts', 'table:orders.items', 'schema:orders']),
    );
  });

  it('normalises identifiers: unquoted and quoted names compare lower-cased', () => {
    expect(tableTag('Accounts', 'Users')).toBe('table:users.accounts');
    expect(tableTag('"Users"."Accounts"', undefined)).toBe('table:users.accounts');
    expect(tableTag('"a.b".c', undefined)).toBe('table:a.b.c');
    expect(tableTag('t', undefined)).toBe('table:public.t');
  });

  it('gives the written tables of a write, or its schema when none is named', () => {
    expect(writeTags({ schema: 'users', sql: 'UPDATE accounts SET a = 1' })).toEqual(['table:users.accounts']);
    expect(writeTags({ schema: 'users', sql: 'SELECT f()' })).toEqual(['schema:users']);
    expect(writeTags({ schema: 'users', sql: 'UPDATE accounts SET a = 1' }, 'schema')).toEqual(['schema:users']);
  });
});
