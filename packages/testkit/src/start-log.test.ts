import { describe, expect, it } from 'vitest';
import { hopelessIn, portTakenIn, redactLog } from './start-log.js';

describe('start log', () => {
  it('tells a taken port from a hopeless configuration', () => {
    const taken = [
      '2026-12-03 13:00:00.000 UTC [123] LOG:  could not bind IPv4 address "127.0.0.1": Address already in use',
      '2026-12-03 13:00:00.000 UTC [123] FATAL:  could not create any TCP/IP sockets',
    ].join('\n');
    expect(portTakenIn(taken)).toBe(true);
    expect(portTakenIn('FATAL:  lock file "/tmp/x/.s.PGSQL.40123.lock" already exists')).toBe(true);
    expect(hopelessIn(taken)).toBe(false);
    const bad = 'LOG:  unrecognized configuration parameter "no_such" in file "/d/node.conf" line 3';
    expect(hopelessIn(bad)).toBe(true);
    expect(portTakenIn(bad)).toBe(false);
    expect(portTakenIn('FATAL:  pre-existing shared memory block (key 1, ID 2) is still in use')).toBe(false);
  });

  it('keeps passwords out of what an error shows', () => {
    const log = [
      "STATEMENT:  ALTER ROLE pgm PASSWORD 's3cret''x'",
      'primary_conninfo password=s3cret host=127.0.0.1',
      'postgres://pgm:s3cret@127.0.0.1:5432/db',
    ].join('\n');
    const out = redactLog(log);
    expect(out).not.toContain('s3cret');
    expect(out).toContain('PASSWORD [redacted]');
    expect(out).toContain('postgres://pgm:[redacted]@127.0.0.1');
  });
});
