import { describe, expect, it } from 'vitest';
import { formatLsn, parseLsn } from './lsn.js';
import {
  advanceToken,
  createSessionToken,
  currentSession,
  isSessionToken,
  parseSessionToken,
  runWithSessionToken,
} from './session-token.js';

describe('LSN', () => {
  it('parses and formats PostgreSQL WAL positions, ordering them numerically', () => {
    expect(parseLsn('0/16B3748')).toBe(0x16b3748n);
    expect(parseLsn('1/0')).toBe(1n << 32n);
    expect(parseLsn('A/FF')! > parseLsn('9/FFFFFFFF')!).toBe(true);
    expect(formatLsn(parseLsn('2A/3B0C0D8')!)).toBe('2A/3B0C0D8');
    for (const bad of [null, undefined, '', '16B3748', '/1', 'x/y']) expect(parseLsn(bad)).toBeUndefined();
  });
});

describe('session tokens', () => {
  it('only move forward and round-trip through their string form', () => {
    const t = createSessionToken();
    advanceToken(t, 'users_cluster', 100n);
    advanceToken(t, 'users_cluster', 50n);
    advanceToken(t, 'orders#shard-1', 7n);
    expect(t.positions.get('users_cluster')).toBe(100n);
    const copy = parseSessionToken(String(t));
    expect(isSessionToken(copy)).toBe(true);
    expect([...copy.positions]).toEqual([...t.positions]);
    expect(parseSessionToken('').positions.size).toBe(0);
    expect(() => parseSessionToken('users_cluster=nope')).toThrow(/Not a session token/);
    expect(isSessionToken({ positions: new Map() })).toBe(false);
  });

  it('are ambient inside runWithSessionToken, across awaits, and only there', async () => {
    const t = createSessionToken();
    expect(currentSession()).toBeUndefined();
    await runWithSessionToken(t, async () => {
      await new Promise((r) => setTimeout(r, 1));
      expect(currentSession()).toBe(t);
    });
    expect(currentSession()).toBeUndefined();
  });
});
