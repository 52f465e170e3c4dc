import { PgmError } from '@pg-multiverse/core';
import { describe, expect, it } from 'vitest';
import { causeText } from './cause-text.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('causeText', () => {
  it('keeps a system error as node words it (the code is in the message)', () => {
    expect(causeText(withCode('connect ECONNREFUSED 127.0.0.1:5433', 'ECONNREFUSED'))).toBe(
      'connect ECONNREFUSED 127.0.0.1:5433',
    );
  });

  it('adds the SQLSTATE of a server error', () => {
    expect(causeText(withCode('password authentication failed for user "app"', '28P01'))).toBe(
      'password authentication failed for user "app" [28P01]',
    );
  });

  it('says why the router refused (primary marked down)', () => {
    const down = new PgmError(
      'NO_AVAILABLE_NODE',
      'The primary of cluster "c" (primary) is down: connect ECONNREFUSED',
      {
        clusterId: 'c',
      },
    );
    expect(causeText(down)).toBe(
      'The primary of cluster "c" (primary) is down: connect ECONNREFUSED [NO_AVAILABLE_NODE]',
    );
  });

  it('unpacks an AggregateError without a message (a name with several addresses)', () => {
    const agg = new AggregateError(
      [
        withCode('connect ECONNREFUSED ::1:5433', 'ECONNREFUSED'),
        withCode('connect ECONNREFUSED 127.0.0.1:5433', 'ECONNREFUSED'),
      ],
      '',
    );
    expect(causeText(agg)).toBe('connect ECONNREFUSED ::1:5433; connect ECONNREFUSED 127.0.0.1:5433');
  });

  it('removes secrets and stays on one bounded line', () => {
    const text = causeText(new Error('cannot reach postgres://app:s3cret@db:5432/app\npassword=hunter22 host=db'));
    expect(text).not.toContain('s3cret');
    expect(text).not.toContain('hunter22');
    expect(text).toBe('cannot reach postgres://app:***@db:5432/app password=*** host=db');
    expect(causeText(new Error('x'.repeat(2000))).length).toBeLessThan(600);
    expect(causeText('plain string')).toBe('plain string');
    expect(causeText(new Error(''))).toBe('Error');
  });
});
