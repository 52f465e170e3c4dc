import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { PgBinaries } from './binaries.js';
import { TestkitError } from './errors.js';
import { isProcessAlive } from './process-alive.js';
import { runAsServerUser, serverUser } from './run-as.js';
import { confString } from './settings.js';
import type { TcpProxy } from './tcp-proxy.js';
import type { NodeConnection, NodeHandle, NodeRole, QueryResultLite, StopNodeOptions } from './types.js';

export interface NodeInit {
  id: string;
  clusterId: string;
  role: NodeRole;
  serverPort: number;
  dataDir: string;
  /** Directory for the unix socket and the log file. */
  runDir: string;
  bins: PgBinaries;
  proxy: TcpProxy;
  connection: NodeConnection;
  /** The cluster's current primary (for lag and catch-up of replicas). */
  upstream: () => NodeHandle | undefined;
  onPid: () => void;
}

export interface ManagedNode extends NodeHandle {
  /** Writes node.conf (port, socket dir, primary_conninfo) into the data directory. */
  writeNodeConf(primaryServerPort?: number, extraConf?: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function writeOwnedFile(path: string, text: string): void {
  writeFileSync(path, text);
  const u = serverUser();
  if (u.dropped) chownSync(path, u.uid, u.gid);
}

export function createNode(init: NodeInit): ManagedNode {
  let role = init.role;
  let pid: number | undefined;
  const logFile = join(init.runDir, `${init.clusterId}.${init.id}.log`);
  const pgCtl = join(init.bins.serverBinDir, 'pg_ctl');
  const key = `${init.clusterId}/${init.id}`;
  const fail = (msg: string, cause?: unknown) =>
    new TestkitError(`${key}: ${msg}`, { cause, details: { node: key, logFile } });

  const readPid = (): number | undefined => {
    const f = join(init.dataDir, 'postmaster.pid');
    if (!existsSync(f)) return undefined;
    const n = Number(readFileSync(f, 'utf8').split('\n')[0]);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  };

  async function query<R>(sql: string, params?: unknown[]): Promise<QueryResultLite<R>> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: init.serverPort,
      user: 'postgres',
      database: 'postgres',
      connectionTimeoutMillis: 10_000,
      application_name: 'pgm-testkit-admin',
    });
    client.on('error', () => {});
    try {
      await client.connect();
      const r = await client.query(sql, params as unknown[] | undefined);
      return { rows: r.rows as R[], rowCount: r.rowCount };
    } finally {
      await client.end().catch(() => {});
    }
  }

  async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let delay = 10;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        if (await check()) return;
      } catch (err) {
        last = err;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 200);
    }
    throw fail(`timed out after ${timeoutMs} ms waiting for ${what}`, last);
  }

  const node: ManagedNode = {
    id: init.id,
    clusterId: init.clusterId,
    key,
    get role() {
      return role;
    },
    host: '127.0.0.1',
    port: init.proxy.port,
    serverPort: init.serverPort,
    dataDir: init.dataDir,
    logFile,
    get pid() {
      return pid;
    },
    get running() {
      return pid !== undefined && isProcessAlive(pid);
    },
    connection: init.connection,
    proxy: init.proxy,
    query,

    writeNodeConf(primaryServerPort?: number, extraConf = '') {
      const lines = [`port = ${init.serverPort}`, `unix_socket_directories = ${confString(init.runDir)}`];
      if (primaryServerPort !== undefined) {
        lines.push(
          `primary_conninfo = ${confString(`host=127.0.0.1 port=${primaryServerPort} user=postgres application_name=${init.clusterId}.${init.id}`)}`,
        );
      }
      if (extraConf) lines.push(extraConf);
      writeOwnedFile(join(init.dataDir, 'node.conf'), `${lines.join('\n')}\n`);
    },

    async start() {
      if (node.running) return;
      // After a kill, orphaned backends may hold the old shared memory for a moment: retry.
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = await runAsServerUser(pgCtl, ['-D', init.dataDir, '-l', logFile, '-w', '-t', '60', '-s', 'start'], {
          cwd: init.runDir,
          allowFailure: true,
        });
        if (r.code === 0) break;
        if (Date.now() > deadline) {
          let tail = '';
          try {
            tail = readFileSync(logFile, 'utf8').slice(-2000);
          } catch {}
          throw fail(`pg_ctl start failed: ${(r.stderr || r.stdout).trim()}\n${tail}`);
        }
        await sleep(100);
      }
      pid = readPid();
      init.onPid();
    },

    async stop(opts: StopNodeOptions = {}) {
      const mode = opts.mode ?? 'fast';
      const was = pid;
      if (!node.running) {
        pid = undefined;
        return;
      }
      const r = await runAsServerUser(pgCtl, ['-D', init.dataDir, '-m', mode, '-w', '-t', '60', '-s', 'stop'], {
        cwd: init.runDir,
        allowFailure: true,
      });
      if (r.code !== 0 && was !== undefined && isProcessAlive(was)) {
        throw fail(`pg_ctl stop -m ${mode} failed: ${(r.stderr || r.stdout).trim()}`);
      }
      pid = undefined;
      init.onPid();
    },

    async kill() {
      const p = pid;
      if (p === undefined) return;
      try {
        process.kill(p, 'SIGKILL');
      } catch {}
      await waitUntil('the killed postmaster to exit', 10_000, async () => !isProcessAlive(p));
      pid = undefined;
      init.onPid();
    },

    async isInRecovery() {
      const r = await query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r');
      return r.rows[0]!.r;
    },

    async pauseReplay() {
      if (role !== 'replica') throw fail('pauseReplay() needs a replica');
      await query('SELECT pg_wal_replay_pause()');
    },

    async resumeReplay() {
      if (role !== 'replica') throw fail('resumeReplay() needs a replica');
      await query('SELECT pg_wal_replay_resume()');
    },

    async promote() {
      if (role !== 'replica') throw fail('promote() needs a replica');
      await query('SELECT pg_promote(true, 60)');
      await waitUntil('promotion', 60_000, async () => !(await node.isInRecovery()));
      role = 'primary';
    },

    async lagBytes() {
      if (role !== 'replica') return 0;
      const up = init.upstream();
      if (!up) throw fail('no primary to measure lag against');
      const lsn = (await up.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]!.l;
      const r = await query<{ d: string | null }>(
        'SELECT pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn())::text AS d',
        [lsn],
      );
      return Math.max(0, Number(r.rows[0]!.d ?? Number.NaN));
    },

    async waitForCatchUp(opts = {}) {
      if (role !== 'replica') return;
      const up = init.upstream();
      if (!up) throw fail('no primary to catch up with');
      // A tiny WAL record marks "everything written so far". Comparing with the insert position alone can
      // wait forever right after a segment switch: replay ends at the switch record, before that position.
      const lsn = (
        await up.query<{ l: string }>("SELECT pg_logical_emit_message(false, 'pgm-testkit', 'catch-up')::text AS l")
      ).rows[0]!.l;
      await waitUntil(`replay to reach ${lsn}`, opts.timeoutMs ?? 30_000, async () => {
        const r = await query<{ ok: boolean | null }>(
          'SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), $1::pg_lsn) >= 0 AS ok',
          [lsn],
        );
        return r.rows[0]!.ok === true;
      });
    },
  };
  return node;
}
