import { ConfigError, PgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { codeOf, exitCodeOf, usageError } from './errors.js';

describe('exit codes', () => {
  it('2 for usage and configuration errors, 1 for everything else', () => {
    expect(exitCodeOf(usageError('x'))).toBe(2);
    expect(exitCodeOf(new ConfigError([{ path: 'a', message: 'b' }]))).toBe(2);
    expect(exitCodeOf(new PgmError('UNKNOWN_SCHEMA', 'x'))).toBe(2);
    expect(exitCodeOf(new PgmError('MIGRATION_FAILED', 'x'))).toBe(1);
    expect(exitCodeOf(new PgmError('CONNECTION_FAILED', 'x'))).toBe(1);
    expect(exitCodeOf(Object.assign(new Error('auth'), { code: '28P01' }))).toBe(1);
    expect(exitCodeOf('string')).toBe(1);
  });

  it('codes for JSON: the PgmError code, else the driver code, else ERROR', () => {
    expect(codeOf(usageError('x'))).toBe('INVALID_ARGUMENT');
    expect(codeOf(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe('ECONNREFUSED');
    expect(codeOf(new Error('x'))).toBe('ERROR');
  });
});
