import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTopology, type Topology } from '../src/index.js';
import { viaProxy } from './helpers.js';

/** Holds a loopback port the way another process would (connections are closed at once). */
function holdPort(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer((s) => s.destroy());
    srv.on('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

describe('node start', () => {
  let topo: Topology;
  beforeAll(async () => {
    topo = await startTopology({ clusters: { sr: { replicas: 1, schemas: ['s'] } } });
    await topo.cluster('sr').primary.query('CREATE TABLE s.t (id int PRIMARY KEY)');
  });
  afterAll(() => topo?.stop());

  it('a port taken while the server was down: it starts on another one; proxy and standby follow', async () => {
    const { primary, replicas } = topo.cluster('sr');
    const old = primary.serverPort;
    const proxyPort = primary.port;
    await primary.stop();
    const blocker = await holdPort(old);
    try {
      await primary.start();
      expect(primary.running).toBe(true);
      expect(primary.serverPort).not.toBe(old);
      // Clients keep the proxy's port; the proxy forwards to the new server port.
      expect(primary.port).toBe(proxyPort);
      expect(primary.proxy.targetPort).toBe(primary.serverPort);
      expect(await viaProxy(primary.connection, 'SELECT inet_server_port() AS p')).toEqual([{ p: primary.serverPort }]);
      // The standby was told the new port (primary_conninfo reloaded) and streams again.
      await primary.query('INSERT INTO s.t VALUES (1)');
      await replicas[0]!.waitForCatchUp({ timeoutMs: 120_000 });
      expect(await viaProxy(replicas[0]!.connection, 'SELECT count(*)::int AS n FROM s.t')).toEqual([{ n: 1 }]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });

  it('a start that cannot succeed fails at once, saying why with the server log tail', async () => {
    const r = topo.cluster('sr').replicas[0]!;
    const conf = join(r.dataDir, 'node.conf');
    const good = readFileSync(conf, 'utf8');
    await r.stop();
    appendFileSync(conf, 'no_such_setting_pgm = 1\n');
    try {
      const err = await r.start().catch((e) => e);
      expect(err).toMatchObject({ name: 'TestkitError', code: 'TESTKIT_FAILED' });
      expect(err.message).toContain('pg_ctl start failed (its configuration or data directory is wrong)');
      expect(err.message).toContain('--- server log (end):');
      expect(err.message).toContain('no_such_setting_pgm');
      expect(err.details).toMatchObject({ node: 'sr/replica-1', logFile: r.logFile });
    } finally {
      writeFileSync(conf, good);
    }
    await r.start();
    expect(r.running).toBe(true);
  });
});
