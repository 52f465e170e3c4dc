import { describe, expect, it } from 'vitest';
import { defaultHashType, partitionPredicate } from './row-filter.js';

describe('partitionPredicate', () => {
  it('is one satisfies_hash_partition per partition, sorted and de-duplicated, with the key cast to the hash type', () => {
    expect(
      partitionPredicate({ helperOid: 16400, modulus: 8, partitions: [5, 1, 5], keyExpr: '"k"', type: 'int8' }),
    ).toBe(
      '(satisfies_hash_partition(16400::oid, 8, 1, ("k")::int8) OR satisfies_hash_partition(16400::oid, 8, 5, ("k")::int8))',
    );
  });
  it('refuses partitions out of range and an empty list', () => {
    expect(() => partitionPredicate({ helperOid: 1, modulus: 4, partitions: [4], keyExpr: 'k', type: 'int8' })).toThrow(
      /\[0, 4\)/,
    );
    expect(() => partitionPredicate({ helperOid: 1, modulus: 4, partitions: [], keyExpr: 'k', type: 'int8' })).toThrow(
      /no partitions/,
    );
  });
  it('hashes integer columns as int8 and the rest as text, like the router', () => {
    expect(defaultHashType('integer')).toBe('int8');
    expect(defaultHashType('bigint')).toBe('int8');
    expect(defaultHashType('text')).toBe('text');
    expect(defaultHashType('character varying(20)')).toBe('text');
  });
});
