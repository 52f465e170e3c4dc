import { join } from 'node:path';
import type { PgBinaries } from './binaries.js';
import { type ManagedNode, writeOwnedFile } from './node-handle.js';
import { runAsServerUser } from './run-as.js';

/**
 * How replicas get their data directory:
 * - `template` (default): a copy of the same template the primary was copied from (same system
 *   identifier, same shutdown checkpoint), so it streams everything the primary wrote since. Fastest,
 *   works with every binary set.
 * - `basebackup`: `pg_basebackup -X stream -c fast` of the running primary (needs pg_basebackup).
 * - `cold-copy`: stop the primary, copy its data directory, start both (what the embedded binaries,
 *   which lack pg_basebackup, would otherwise need).
 */
export type ReplicaMethod = 'template' | 'basebackup' | 'cold-copy';

const copy = (from: string, to: string, cwd: string) => runAsServerUser('cp', ['-a', from, to], { cwd });

/** Makes `standby.signal` and node.conf (port, socket dir, primary_conninfo to the primary's server port). */
function configureStandby(primary: ManagedNode, r: ManagedNode, extraConf: string): void {
  writeOwnedFile(join(r.dataDir, 'standby.signal'), '');
  r.writeNodeConf(primary.serverPort, extraConf);
}

/** Creates the primary's data directory and starts it, with the replicas made by `method`. */
export async function startPrimaryAndReplicas(opts: {
  bins: PgBinaries;
  template: string;
  primary: ManagedNode;
  replicas: readonly ManagedNode[];
  runDir: string;
  extraConf: string;
  method: ReplicaMethod;
  /** Runs on the primary once it is up, before replicas are made (schemas, roles). */
  setup: () => Promise<void>;
}): Promise<void> {
  const { bins, template, primary, replicas, runDir, extraConf, setup } = opts;
  const method = replicas.length === 0 ? 'template' : opts.method;
  const templateData = join(template, 'data');
  if (method === 'template') {
    await Promise.all(
      [primary, ...replicas].map(async (n) => {
        await copy(templateData, n.dataDir, runDir);
        if (n === primary) n.writeNodeConf(undefined, extraConf);
        else configureStandby(primary, n, extraConf);
      }),
    );
    await Promise.all([primary.start().then(setup), ...replicas.map((r) => r.start())]);
    return;
  }
  await copy(templateData, primary.dataDir, runDir);
  primary.writeNodeConf(undefined, extraConf);
  await primary.start();
  await setup();
  if (method === 'basebackup') {
    // One backup at a time: concurrent ones were measured to stall for seconds; the starts overlap.
    const starts: Promise<void>[] = [];
    for (const r of replicas) {
      await runAsServerUser(
        join(bins.serverBinDir, 'pg_basebackup'),
        ['-h', '127.0.0.1', '-p', String(primary.serverPort), '-U', 'postgres', '-D', r.dataDir].concat([
          '-X',
          'stream',
          '-c',
          'fast',
          '--no-sync',
        ]),
        { cwd: runDir },
      );
      configureStandby(primary, r, extraConf);
      starts.push(r.start());
    }
    await Promise.all(starts);
    return;
  }
  await primary.stop({ mode: 'fast' });
  await Promise.all(
    replicas.map(async (r) => {
      await copy(primary.dataDir, r.dataDir, runDir);
      configureStandby(primary, r, extraConf);
    }),
  );
  await Promise.all([primary.start(), ...replicas.map((r) => r.start())]);
}
