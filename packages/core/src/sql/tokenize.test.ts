import { describe, expect, it } from 'vitest';
import { type SqlToken, tokenizeSql } from './tokenize.js';

const pairs = (sql: string) => tokenizeSql(sql).map((t) => [t.type, t.value]);
const values = (sql: string) => tokenizeSql(sql).map((t) => t.value);

describe('tokenizeSql', () => {
  it('folds unquoted words to lower case (ASCII only) and keeps positions', () => {
    const toks = tokenizeSql('SELECT Foo_1, bar$x FROM ÄBc');
    expect(toks.map((t) => [t.type, t.value])).toEqual([
      ['word', 'select'],
      ['word', 'foo_1'],
      ['punctuation', ','],
      ['word', 'bar$x'],
      ['word', 'from'],
      ['word', 'Äbc'],
    ]);
    expect(toks[1]).toMatchObject({ start: 7, end: 12, text: 'Foo_1' });
  });

  it('truncates identifiers to 63 bytes like PostgreSQL, on a character boundary', () => {
    expect(values(`${'a'.repeat(70)} "${'B'.repeat(64)}"`)).toEqual(['a'.repeat(63), 'B'.repeat(63)]);
    expect(values(`"${'é'.repeat(40)}"`)).toEqual(['é'.repeat(31)]);
    expect(values(`x${'é'.repeat(31)}`)).toEqual([`x${'é'.repeat(31)}`]);
  });

  it('decodes quoted identifiers with "" escapes and keeps their case', () => {
    expect(pairs('"Delete" "a""b" "x.y"')).toEqual([
      ['quoted_identifier', 'Delete'],
      ['quoted_identifier', 'a"b'],
      ['quoted_identifier', 'x.y'],
    ]);
  });

  it('decodes U&"..." identifiers, with and without UESCAPE', () => {
    expect(values('U&"d\\0061t\\+000061"')).toEqual(['data']);
    expect(values(`u&"d!0061t!+000061" UESCAPE '!' x`)).toEqual(['data', 'x']);
    expect(values('U&"\\\\"')).toEqual(['\\']);
  });

  it("reads '...' strings with '' escapes and literal backslashes", () => {
    const [t] = tokenizeSql("'it''s a \\n test'");
    expect(t).toMatchObject({ type: 'string', stringKind: 'standard', value: "it's a \\n test" });
  });

  it('joins string constants separated by a newline, not by spaces only', () => {
    expect(pairs("'foo'\n  'bar'")).toEqual([['string', 'foobar']]);
    expect(pairs("'foo' -- c\n'bar'")).toEqual([['string', 'foobar']]);
    expect(pairs("'foo' 'bar'")).toEqual([
      ['string', 'foo'],
      ['string', 'bar'],
    ]);
  });

  it('decodes E strings with backslash escapes', () => {
    const [t] = tokenizeSql("E'a\\'b\\n\\t\\x41\\101\\u00e9\\U0001F600\\\\''q'");
    expect(t).toMatchObject({ type: 'string', stringKind: 'escape', value: "a'b\n\tAAé😀\\'q" });
    expect(values("e'\\''")).toEqual(["'"]);
    // octal and hex escapes are bytes that form UTF-8 characters
    expect(values("E'\\xC3\\xA9 \\303\\251'")).toEqual(['é é']);
  });

  it('reads B, X, N and U& strings', () => {
    const toks = tokenizeSql("B'1010' x'FF' N'nat' U&'\\0041b' U&'!0041' UESCAPE '!'");
    expect(toks.map((t) => [t.stringKind, t.value])).toEqual([
      ['bit', '1010'],
      ['hex', 'FF'],
      ['national', 'nat'],
      ['unicode', 'Ab'],
      ['unicode', 'A'],
    ]);
  });

  it('treats a prefix letter inside a longer word as part of the word', () => {
    expect(pairs("abe'x'")).toEqual([
      ['word', 'abe'],
      ['string', 'x'],
    ]);
  });

  it('reads dollar-quoted strings with and without tags, nested tags kept as content', () => {
    const toks = tokenizeSql('$$ DELETE FROM t; $$ $fn$ a $$ b $x$ c $fn$ $a1$x$a1$');
    expect(toks.map((t) => [t.type, t.tag, t.value])).toEqual([
      ['string', '', ' DELETE FROM t; '],
      ['string', 'fn', ' a $$ b $x$ c '],
      ['string', 'a1', 'x'],
    ]);
  });

  it('does not start a dollar quote inside an identifier, and reads $n params', () => {
    expect(pairs('a$b$ $1 $23::int')).toEqual([
      ['word', 'a$b$'],
      ['param', '$1'],
      ['param', '$23'],
      ['punctuation', '::'],
      ['word', 'int'],
    ]);
  });

  it('reads numbers in every form', () => {
    expect(pairs('1 1.5 .5 1. 1e10 1.5E-3 0x1F 0o17 0b101 1_000 arr[1:2]')).toEqual([
      ['number', '1'],
      ['number', '1.5'],
      ['number', '.5'],
      ['number', '1.'],
      ['number', '1e10'],
      ['number', '1.5E-3'],
      ['number', '0x1F'],
      ['number', '0o17'],
      ['number', '0b101'],
      ['number', '1000'],
      ['word', 'arr'],
      ['punctuation', '['],
      ['number', '1'],
      ['punctuation', ':'],
      ['number', '2'],
      ['punctuation', ']'],
    ]);
    expect(pairs('1..2')).toEqual([
      ['number', '1'],
      ['operator', '..'],
      ['number', '2'],
    ]);
  });

  it('reads operators by PostgreSQL rules', () => {
    expect(values("a->>'k' b@>c d!=e f<>g h||i j>=k")).toEqual([
      'a',
      '->>',
      'k',
      'b',
      '@>',
      'c',
      'd',
      '<>',
      'e',
      'f',
      '<>',
      'g',
      'h',
      '||',
      'i',
      'j',
      '>=',
      'k',
    ]);
    // a trailing + or - is split off unless the operator has a non-math character
    expect(values('a=-1')).toEqual(['a', '=', '-', '1']);
    expect(values('a@-1')).toEqual(['a', '@-', '1']);
    // an operator stops before a comment start
    expect(values('a+--c\n1')).toEqual(['a', '+', '1']);
    expect(values('a*/*c*/b')).toEqual(['a', '*', 'b']);
  });

  it('reads punctuation, casts and :=', () => {
    expect(values('f(a, b)::text[]; x.y := 1')).toEqual([
      'f',
      '(',
      'a',
      ',',
      'b',
      ')',
      '::',
      'text',
      '[',
      ']',
      ';',
      'x',
      '.',
      'y',
      ':=',
      '1',
    ]);
  });

  it('skips comments by default, including nested block comments', () => {
    expect(values('SELECT /* a /* nested */ still comment DELETE */ 1 -- DROP TABLE x\n, 2')).toEqual([
      'select',
      '1',
      ',',
      '2',
    ]);
    const withComments = tokenizeSql('/* a /* b */ c */ x -- d', { comments: true });
    expect(withComments.map((t) => [t.type, t.value])).toEqual([
      ['comment', ' a /* b */ c '],
      ['word', 'x'],
      ['comment', ' d'],
    ]);
  });

  it('marks unterminated constructs instead of throwing', () => {
    const last = (sql: string, opts?: { comments: boolean }): SqlToken => tokenizeSql(sql, opts).at(-1)!;
    expect(last("SELECT 'abc")).toMatchObject({ type: 'string', value: 'abc', unterminated: true });
    expect(last('SELECT "abc')).toMatchObject({ type: 'quoted_identifier', unterminated: true });
    expect(last('SELECT $q$ abc $q')).toMatchObject({ type: 'string', stringKind: 'dollar', unterminated: true });
    expect(last('SELECT /* a /* b */', { comments: true })).toMatchObject({ type: 'comment', unterminated: true });
    expect(last('SELECT $')).toMatchObject({ type: 'unknown', value: '$' });
  });

  it('gives text and offsets that slice the source', () => {
    const sql = '  SELECT E\'x\' , "Q" -- c\n FROM t';
    for (const t of tokenizeSql(sql)) expect(sql.slice(t.start, t.end)).toBe(t.text);
  });
});
