import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatGid, MAX_GID_BYTES, newTxid, ownerPrefix, parseGid, toOwnerId } from './gid.js';

describe('gid', () => {
  it('formats and parses back', () => {
    const txid = newTxid();
    const gid = formatGid('users_cluster', txid, 'commerce:cluster');
    expect(gid.startsWith(ownerPrefix('users_cluster'))).toBe(true);
    expect(parseGid(gid)).toEqual({ ownerId: 'users_cluster', txid, clusterId: 'commerce:cluster' });
  });

  it('round-trips any cluster id that fits', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 100 }), (clusterId) => {
        const txid = newTxid();
        const gid = formatGid('owner-1', txid, clusterId);
        expect(Buffer.byteLength(gid)).toBeLessThanOrEqual(MAX_GID_BYTES);
        expect(parseGid(gid)).toEqual({ ownerId: 'owner-1', txid, clusterId });
      }),
    );
  });

  it('makes unique transaction ids', () => {
    const ids = new Set(Array.from({ length: 10_000 }, newTxid));
    expect(ids.size).toBe(10_000);
  });

  it('rejects foreign or malformed gids', () => {
    expect(parseGid('_pg_other:1:2')).toBeUndefined();
    expect(parseGid('citus_0_1234_5_6')).toBeUndefined();
    expect(parseGid('pgm:owner')).toBeUndefined();
    expect(parseGid('pgm:bad owner:abc-def:c')).toBeUndefined();
    expect(parseGid('pgm:o:NOT_A_TXID:c')).toBeUndefined();
  });

  it('refuses ids over 199 bytes and bad owner ids', () => {
    expect(() => formatGid('o', newTxid(), 'x'.repeat(200))).toThrow(/exceed 199 bytes/);
    expect(() => formatGid('has:colon', newTxid(), 'c')).toThrow(/ownerId/);
    expect(toOwnerId('my cluster/1')).toBe('my_cluster_1');
  });
});
