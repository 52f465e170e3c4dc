import { describe, expect, it } from 'vitest';
import { PgmError } from './errors.js';
import { quoteIdent, quoteLiteral, quoteQualified } from './quote-ident.js';
import { collectSecrets, describeNode, redactError, redactSecrets } from './redact.js';

describe('redaction', () => {
  it('removes passwords from URLs, key=value pairs, JSON and known literals', () => {
    const s = redactSecrets(
      'connect postgres://app:hunter2@db:5432/x failed; password=hunter2 {"password":"hunter2"} raw hunter2',
      ['hunter2'],
    );
    expect(s).not.toContain('hunter2');
    expect(s).toContain('postgres://app:***@db:5432/x');
  });

  it('describes a node without its password', () => {
    expect(describeNode({ host: 'db', port: 5433, user: 'app', password: 'pw', database: 'd' })).toBe(
      'postgres://app:***@db:5433/d',
    );
    expect(describeNode('postgres://a:b@h/d')).toBe('postgres://a:***@h/d');
  });

  it('collects literal passwords and redacts error chains', () => {
    const secrets = collectSecrets([{ host: 'h', password: 'topsecret' }, 'postgres://u:urlsecret@h/d']);
    expect(secrets).toEqual(['topsecret', 'urlsecret']);
    const err = new PgmError('CONNECTION_FAILED', 'x', { cause: new Error('auth failed for topsecret') });
    redactError(err, secrets);
    expect((err.cause as Error).message).toBe('auth failed for ***');
  });
});

describe('quoteIdent', () => {
  it('quotes and escapes', () => {
    expect(quoteIdent('users')).toBe('"users"');
    expect(quoteIdent('We"ird')).toBe('"We""ird"');
    expect(quoteQualified('s', 't')).toBe('"s"."t"');
    expect(quoteLiteral("it's")).toBe("'it''s'");
  });
  it('rejects empty names with a PgmError', () => {
    expect(() => quoteIdent('')).toThrow(PgmError);
  });
});

describe('PgmError', () => {
  it('keeps the SQLSTATE of its cause reachable', () => {
    const pgErr = Object.assign(new Error('duplicate key'), { code: '23505' });
    const e = new PgmError('QUERY_FAILED', 'insert failed', { cause: pgErr, clusterId: 'c' });
    expect(e.sqlState).toBe('23505');
    expect(e.cause).toBe(pgErr);
    expect(e.code).toBe('QUERY_FAILED');
  });
});
