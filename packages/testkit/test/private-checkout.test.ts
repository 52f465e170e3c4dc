import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { serverUser } from '../src/run-as.js';
import { pickBaseTmpDir, serverUserCanEnter } from '../src/tmp-base.js';

// A checkout in a directory made by `mktemp -d` as root (mode 700): when the servers run as the
// unprivileged `postgres` user, that user cannot enter it, so nothing the servers use may live there.
describe('a checkout in a directory the server user cannot enter', () => {
  let priv: string;
  beforeEach(() => {
    priv = mkdtempSync(join(tmpdir(), 'pgm-private-checkout-'));
  });
  afterEach(() => {
    rmSync(priv, { recursive: true, force: true });
  });

  it('data, sockets and templates go to directories the server user can enter', () => {
    const dropped = serverUser().dropped;
    expect(serverUserCanEnter(priv)).toBe(!dropped);
    // TMPDIR pointing at a private directory: /dev/shm or /tmp instead
    const dir = pickBaseTmpDir({}, priv);
    if (dropped) expect(dir).not.toBe(priv);
    expect(serverUserCanEnter(dir)).toBe(true);
    // an explicit PGM_TESTKIT_TMPDIR is used as is, or refused with the reason
    const env = { PGM_TESTKIT_TMPDIR: join(priv, 'tmp') };
    mkdirSync(env.PGM_TESTKIT_TMPDIR);
    if (dropped) {
      expect(() => pickBaseTmpDir(env)).toThrow(/PGM_TESTKIT_TMPDIR=.*cannot enter it/);
    } else {
      expect(pickBaseTmpDir(env)).toBe(env.PGM_TESTKIT_TMPDIR);
    }
  });
});
