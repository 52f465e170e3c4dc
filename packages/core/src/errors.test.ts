import { describe, expect, it } from 'vitest';
import { ConfigError, isPgmError, PgmError } from './errors.js';

describe('PgmError identity', () => {
  it('a PgmError of another copy of the package is recognised (isPgmError and instanceof)', async () => {
    // A second module instance of errors.ts, as when ESM and CJS builds (or two versions) are loaded together.
    const other = (await import(/* @vite-ignore */ `./errors.js?copy=${Date.now()}`)) as typeof import('./errors.js');
    expect(other.PgmError).not.toBe(PgmError);
    const foreign = new other.PgmError('QUERY_FAILED', 'from the other copy');
    expect(isPgmError(foreign)).toBe(true);
    expect(isPgmError(foreign, 'QUERY_FAILED')).toBe(true);
    expect(isPgmError(foreign, 'CLOSED')).toBe(false);
    expect(foreign instanceof PgmError).toBe(true);
    expect(other.isPgmError(new PgmError('CLOSED', 'x'))).toBe(true);
  });

  it('subclasses keep ordinary instanceof; plain errors are not PgmErrors', () => {
    const config = new ConfigError([{ path: 'a', message: 'b' }]);
    expect(config instanceof PgmError).toBe(true);
    expect(config instanceof ConfigError).toBe(true);
    expect(new PgmError('CLOSED', 'x') instanceof ConfigError).toBe(false);
    expect(isPgmError(new Error('x'))).toBe(false);
    expect(isPgmError({ code: 'CLOSED' })).toBe(false);
    expect(isPgmError(null)).toBe(false);
  });
});
