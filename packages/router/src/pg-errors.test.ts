import { PgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { isConnectionError, isRetryableRead, wrapQueryError } from './pg-errors.js';

const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code, severity: 'ERROR' });
const netError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:1`), { code });

describe('retryable reads', () => {
  it('retries connection failures, shutdowns and recovery conflicts, nothing else', () => {
    for (const e of [
      netError('ECONNREFUSED'),
      netError('ECONNRESET'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      pgError('57P01'),
      pgError('57P02'),
      pgError('57P03'),
      pgError('40001', 'canceling statement due to conflict with recovery'),
    ]) {
      expect(isRetryableRead(e), e.message).toBe(true);
    }
    for (const e of [
      pgError('22012'),
      pgError('42P01'),
      pgError('23505'),
      pgError('25006'),
      new Error('Query read timeout'),
      new Error('something else'),
    ]) {
      expect(isRetryableRead(e), e.message).toBe(false);
    }
    expect(isConnectionError(pgError('57P01'))).toBe(true);
    expect(isConnectionError(pgError('22012'))).toBe(false);
  });
});

describe('wrapQueryError', () => {
  it('keeps the SQLSTATE reachable, picks a code, and redacts secrets', () => {
    const e = wrapQueryError(pgError('22012', 'division by zero'), 'c1', 'replica-1', []);
    expect(e).toBeInstanceOf(PgmError);
    expect(e.code).toBe('QUERY_FAILED');
    expect(e.sqlState).toBe('22012');
    expect((e.cause as { code: string }).code).toBe('22012');
    expect(e.message).toMatch(/c1\/replica-1 \[22012\]: division by zero/);
    expect(wrapQueryError(new Error('Query read timeout'), 'c', 'n', []).code).toBe('QUERY_TIMEOUT');
    expect(wrapQueryError(pgError('57014', 'canceling statement due to statement timeout'), 'c', 'n', []).code).toBe(
      'QUERY_TIMEOUT',
    );
    expect(wrapQueryError(netError('ECONNREFUSED'), 'c', 'n', []).code).toBe('CONNECTION_FAILED');
    const secret = wrapQueryError(new Error('auth failed for postgres://app:s3cret@db/x'), 'c', 'n', ['s3cret']);
    expect(secret.message).not.toContain('s3cret');
  });
});
