import { join } from 'node:path';
import type { PgBinaries } from './binaries.js';
import { type ManagedNode, writeOwnedFile } from './node-handle.js';
import { runAsServerUser } from './run-as.js';

/**
 * Turns empty replica nodes into streaming standbys of `primary` and starts them.
 * With pg_basebackup: a streamed base backup of the running primary.
 * Without (embedded binaries): a cold copy of the primary's data directory, taken while it is stopped.
 * Either way the replica gets `standby.signal` and `primary_conninfo` (in node.conf) pointing at the
 * primary's server port (not its proxy).
 */
export async function makeReplicas(
  bins: PgBinaries,
  primary: ManagedNode,
  replicas: readonly ManagedNode[],
  runDir: string,
  extraConf: string,
): Promise<void> {
  const finish = (r: ManagedNode) => {
    writeOwnedFile(join(r.dataDir, 'standby.signal'), '');
    r.writeNodeConf(primary.serverPort, extraConf);
  };
  if (bins.hasBasebackup) {
    await Promise.all(
      replicas.map(async (r) => {
        await runAsServerUser(
          join(bins.binDir, 'pg_basebackup'),
          ['-h', '127.0.0.1', '-p', String(primary.serverPort), '-U', 'postgres', '-D', r.dataDir].concat([
            '-X',
            'stream',
            '-c',
            'fast',
            '--no-sync',
          ]),
          { cwd: runDir },
        );
        finish(r);
        await r.start();
      }),
    );
    return;
  }
  await primary.stop({ mode: 'fast' });
  await Promise.all(
    replicas.map(async (r) => {
      await runAsServerUser('cp', ['-a', primary.dataDir, r.dataDir], { cwd: runDir });
      finish(r);
    }),
  );
  await Promise.all([primary.start(), ...replicas.map((r) => r.start())]);
}
