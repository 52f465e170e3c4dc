import { PgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { isConnectionError, isRefusal, isRetryableRead, sqlStateOf, wrapQueryError } from './pg-errors.js';

const pgError = (code: string, message = 'boom') => Object.assign(new Error(message), { code, severity: 'ERROR' });
const netError = (code: string, syscall = 'connect') =>
  Object.assign(new Error(`${syscall} ${code} 127.0.0.1:1`), { code, syscall, errno: -1 });

describe('retryable reads', () => {
  it('retries connection failures, shutdowns and recovery conflicts, nothing else', () => {
    for (const e of [
      netError('ECONNREFUSED'),
      netError('ECONNRESET'),
      netError('EPIPE', 'write'),
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

describe('refusals (a probe that ends this way marks the node down at once)', () => {
  it('refused, reset, closed, shutting down or starting: yes; timeouts and other errors: no', () => {
    for (const e of [
      netError('ECONNREFUSED'),
      netError('ECONNRESET', 'read'),
      netError('EPIPE', 'write'),
      netError('EHOSTUNREACH'),
      new Error('Connection terminated unexpectedly'),
      pgError('57P01', 'terminating connection due to administrator command'),
      pgError('57P02'),
      pgError('57P03', 'the database system is starting up'),
      pgError('08006'),
    ]) {
      expect(isRefusal(e), e.message).toBe(true);
    }
    for (const e of [
      netError('ETIMEDOUT'),
      new Error('timeout expired'),
      new Error('Connection terminated due to connection timeout'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Query read timeout'),
      pgError('53300', 'sorry, too many clients already'),
      pgError('28P01', 'password authentication failed'),
      pgError('57014'),
      new Error('something else'),
    ]) {
      expect(isRefusal(e), e.message).toBe(false);
    }
  });

  it('a Node system error code shaped like a SQLSTATE is not one', () => {
    expect(sqlStateOf(netError('EPIPE', 'write'))).toBeUndefined();
    expect(sqlStateOf(pgError('57P01'))).toBe('57P01');
    expect(wrapQueryError(netError('EPIPE', 'write'), 'c', 'n', []).code).toBe('CONNECTION_FAILED');
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
