// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${VAR} placeholders are the subject under test
import { ConfigError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { expandEnv } from './expand-env.js';

describe('expandEnv', () => {
  const env = { HOST: 'db.local', PASS: 's3cret', EMPTY: '' };

  it('expands variables in every string, deeply', () => {
    const out = expandEnv(
      {
        a: { primary: { host: '${HOST}', password: '${PASS}', port: 5432 }, schemas: ['x_${HOST}'] },
        url: 'postgres://u:${PASS}@${HOST}/db',
      },
      env,
    );
    expect(out).toEqual({
      a: { primary: { host: 'db.local', password: 's3cret', port: 5432 }, schemas: ['x_db.local'] },
      url: 'postgres://u:s3cret@db.local/db',
    });
  });

  it('uses fallbacks and keeps $${ literal', () => {
    expect(expandEnv('${NOPE:-5433}', env)).toBe('5433');
    expect(expandEnv('${EMPTY:-x}', env)).toBe('x');
    expect(expandEnv('${EMPTY}', env)).toBe('');
    expect(expandEnv('a$${HOST}', env)).toBe('a${HOST}');
  });

  it('names every unset variable and where it is used', () => {
    let err: unknown;
    try {
      expandEnv({ c: { primary: { password: '${PG_PASS}' } }, d: ['${OTHER}'] }, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issues = (err as ConfigError).issues;
    expect(issues.map((i) => i.path)).toEqual(['c.primary.password', 'd[0]']);
    expect((err as Error).message).toContain('PG_PASS');
    expect((err as Error).message).toContain('OTHER');
  });

  it('leaves functions and non-plain objects alone', () => {
    const fn = () => '${HOST}';
    const date = new Date(0);
    const out = expandEnv({ fn, date }, env);
    expect(out.fn).toBe(fn);
    expect(out.date).toBe(date);
  });
});
