import { describe, expect, it } from 'vitest';
import { checksumOf } from './checksum.js';

describe('checksumOf', () => {
  it('ignores line-ending style, BOM and trailing whitespace', () => {
    expect(checksumOf('a\r\nb\r\n')).toBe(checksumOf('a\nb'));
    expect(checksumOf('\uFEFFa\rb  \n\n')).toBe(checksumOf('a\nb'));
  });
  it('changes with the content', () => {
    expect(checksumOf('CREATE TABLE a (x int)')).not.toBe(checksumOf('CREATE TABLE a (x bigint)'));
  });
});
