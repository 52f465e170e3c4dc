import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { embeddedBinDir, findPgBinaries, reapOrphans, startTopology, type Topology } from '../src/index.js';
import { serverUser } from '../src/run-as.js';
import { pickBaseTmpDir, pickBinCacheDir, serverUserCanEnter } from '../src/tmp-base.js';
import { useOwnTmpBase, viaProxy } from './helpers.js';

// Its own base directory: other runs sharing /tmp reap orphaned binary copies there too, and
// must not take the copy this file expects its own reapOrphans to find.
const ownBase = useOwnTmpBase('private-checkout');

// A checkout in a directory made by `mktemp -d` as root (mode 700): when the servers run as the
// unprivileged `postgres` user, that user cannot enter it, so binaries found there must still work.
describe('binaries inside a directory the server user cannot enter', () => {
  const savedPgBin = process.env.PG_BIN;
  let priv: string;
  let topo: Topology | undefined;
  beforeEach(() => {
    priv = mkdtempSync(join(tmpdir(), 'pgm-private-checkout-'));
  });
  afterEach(async () => {
    await topo?.stop();
    topo = undefined;
    if (savedPgBin === undefined) delete process.env.PG_BIN;
    else process.env.PG_BIN = savedPgBin;
    rmSync(priv, { recursive: true, force: true });
  });

  it('a copy of the embedded build there (PG_BIN) runs from a readable copy; a primary and a replica answer', async () => {
    expect(statSync(priv).mode & 0o777).toBe(0o700);
    execFileSync('cp', ['-a', dirname(embeddedBinDir()!), join(priv, 'native')]);
    const binDir = join(priv, 'native', 'bin');
    process.env.PG_BIN = binDir;

    topo = await startTopology({ clusters: { p: { replicas: 1, schemas: ['priv'] } } });
    const { primary, replicas } = topo.cluster('p');
    await viaProxy(primary.connection, 'CREATE TABLE priv.t (id int); INSERT INTO priv.t VALUES (1)');
    await replicas[0]!.waitForCatchUp();
    expect(await viaProxy(replicas[0]!.connection, 'SELECT id FROM priv.t')).toEqual([{ id: 1 }]);
    const r = await primary.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    expect(r.rows[0]!.v).toMatch(/^18\./);

    const bins = topo.binaries;
    expect(bins.source).toBe('PG_BIN');
    expect(bins.binDir).toBe(binDir);
    if (!serverUser().dropped) {
      expect(bins.serverBinDir).toBe(binDir); // we run the servers ourselves: nothing to copy
      return;
    }
    // Run as root: the servers ran from a world-readable copy of bin/, lib/ and share/.
    const cache = dirname(bins.serverBinDir);
    expect(dirname(cache)).toBe(ownBase());
    expect(basename(cache)).toMatch(/^pgm-testkit-bin-[0-9a-f]{16}$/);
    expect(readdirSync(cache).sort()).toEqual(['bin', 'lib', 'share', 'source']);
    expect(statSync(cache).mode & 0o777).toBe(0o755);
    expect(findPgBinaries(binDir).serverBinDir).toBe(bins.serverBinDir);
    // Once its source is gone, the copy is an orphan: reapOrphans removes it.
    await topo.stop();
    topo = undefined;
    expect(reapOrphans(dirname(cache))).not.toContain(cache);
    rmSync(priv, { recursive: true, force: true });
    expect(reapOrphans(dirname(cache))).toContain(cache);
    expect(existsSync(cache)).toBe(false);
  });

  it('a bin dir of symlinks there (binDir option) runs the link targets, without copying', async () => {
    const target = findPgBinaries().binDir;
    const binDir = join(priv, 'bin');
    mkdirSync(binDir);
    for (const f of readdirSync(target)) symlinkSync(join(target, f), join(binDir, f));

    topo = await startTopology({ clusters: { s: { replicas: 1 } }, binDir });
    const { primary, replicas } = topo.cluster('s');
    await viaProxy(primary.connection, 'CREATE TABLE linked (id int); INSERT INTO linked VALUES (2)');
    await replicas[0]!.waitForCatchUp();
    expect(await viaProxy(replicas[0]!.connection, 'SELECT id FROM linked')).toEqual([{ id: 2 }]);

    expect(topo.binaries.source).toBe('option');
    expect(topo.binaries.binDir).toBe(binDir);
    expect(topo.binaries.serverBinDir).toBe(serverUser().dropped ? realpathSync(target) : binDir);
  });

  it('data, sockets, templates and copies go to directories the server user can enter', () => {
    const dropped = serverUser().dropped;
    expect(serverUserCanEnter(priv)).toBe(!dropped);
    // TMPDIR pointing at a private directory: /dev/shm or /tmp instead
    for (const dir of [pickBaseTmpDir({}, priv), pickBinCacheDir({}, priv)]) {
      if (dropped) expect(dir).not.toBe(priv);
      expect(serverUserCanEnter(dir)).toBe(true);
    }
    // an explicit PGM_TESTKIT_TMPDIR is used as is, or refused with the reason
    const env = { PGM_TESTKIT_TMPDIR: join(priv, 'tmp') };
    mkdirSync(env.PGM_TESTKIT_TMPDIR);
    if (dropped) {
      expect(() => pickBaseTmpDir(env)).toThrow(/PGM_TESTKIT_TMPDIR=.*cannot enter it/);
      expect(() => pickBinCacheDir(env)).toThrow(/PGM_TESTKIT_TMPDIR=.*cannot enter it/);
    } else {
      expect(pickBaseTmpDir(env)).toBe(env.PGM_TESTKIT_TMPDIR);
      expect(pickBinCacheDir(env)).toBe(env.PGM_TESTKIT_TMPDIR);
    }
  });
});
