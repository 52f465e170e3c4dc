import { chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import type { PgBinaries } from './binaries.js';
import { TestkitError } from './errors.js';
import { isProcessAlive } from './process-alive.js';
import { runAsServerUser, serverUser } from './run-as.js';
import { confString } from './settings.js';
import { hopelessIn, logSize, portTakenIn, readLogFrom, redactLog } from './start-log.js';
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
  /** Another free port, for a start whose port another process took before the server bound it. */
  newPort: () => Promise<number>;
  /** After the server moved to another port: the cluster's replicas must stream from the new one. */
  onPortChanged?: () => Promise<void>;
}

export interface ManagedNode extends NodeHandle {
  /** Writes node.conf (port, socket dir, primary_conninfo) into the data directory. */
  writeNodeConf(primaryServerPort?: number, extraConf?: string): void;
  /** A standby whose upstream moved to another port: rewrites primary_conninfo, reloads when running. */
  followUpstream(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long one `pg_ctl start -w` waits before giving up (seconds). */
const PG_CTL_WAIT_S = 60;
/** A server still starting when pg_ctl gave up (a loaded machine) gets this much more (ms). */
const SLOW_START_MS = 240_000;
/** Failed starts other than a taken port (e.g. a killed server's shared memory still held) retry this long (ms). */
const RETRY_MS = 60_000;
/** Starts on another port at most this many times. */
const MAX_PORT_MOVES = 10;

export function writeOwnedFile(path: string, text: string): void {
  writeFileSync(path, text);
  const u = serverUser();
  if (u.dropped) chownSync(path, u.uid, u.gid);
}

export function createNode(init: NodeInit): ManagedNode {
  let role = init.role;
  let pid: number | undefined;
  let serverPort = init.serverPort;
  /** What the last node.conf said (rewritten when this node or its upstream moves to another port). */
  let conf: { primaryServerPort: number | undefined; extraConf: string } = {
    primaryServerPort: undefined,
    extraConf: '',
  };
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
      port: serverPort,
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
    get serverPort() {
      return serverPort;
    },
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
      conf = { primaryServerPort, extraConf };
      const lines = [`port = ${serverPort}`, `unix_socket_directories = ${confString(init.runDir)}`];
      if (primaryServerPort !== undefined) {
        lines.push(
          `primary_conninfo = ${confString(`host=127.0.0.1 port=${primaryServerPort} user=postgres application_name=${init.clusterId}.${init.id}`)}`,
        );
      }
      if (extraConf) lines.push(extraConf);
      writeOwnedFile(join(init.dataDir, 'node.conf'), `${lines.join('\n')}\n`);
    },

    async followUpstream() {
      const upPort = init.upstream()?.serverPort;
      if (conf.primaryServerPort === undefined || upPort === undefined || upPort === conf.primaryServerPort) return;
      node.writeNodeConf(upPort, conf.extraConf);
      // primary_conninfo is reloadable (PostgreSQL 13+): the WAL receiver reconnects to the new port.
      if (node.running) {
        await runAsServerUser(pgCtl, ['-D', init.dataDir, '-s', 'reload'], { cwd: init.runDir, allowFailure: true });
      }
    },

    async start() {
      if (node.running) return;
      // A standby started after its primary moved to another port streams from the new one.
      const upPort = init.upstream()?.serverPort;
      if (conf.primaryServerPort !== undefined && upPort !== undefined && upPort !== conf.primaryServerPort) {
        node.writeNodeConf(upPort, conf.extraConf);
      }
      // Retried: the port may have been taken by another process since it was picked (start again on
      // another one); after a kill, orphaned backends may hold the old shared memory for a moment.
      const deadline = Date.now() + RETRY_MS;
      const tried: string[] = [];
      let moves = 0;
      for (;;) {
        const from = logSize(logFile);
        const r = await runAsServerUser(
          pgCtl,
          ['-D', init.dataDir, '-l', logFile, '-w', '-t', String(PG_CTL_WAIT_S), '-s', 'start'],
          { cwd: init.runDir, allowFailure: true },
        );
        if (r.code === 0) break;
        const out = (r.stderr || r.stdout).trim();
        const still = readPid();
        if (still !== undefined && isProcessAlive(still)) {
          // pg_ctl stopped waiting, the server is still starting (recovery on a loaded machine): wait on.
          const until = Date.now() + SLOW_START_MS;
          let last: unknown;
          let up = false;
          while (!up && isProcessAlive(still) && Date.now() < until) {
            try {
              await query('SELECT 1');
              up = true;
            } catch (err) {
              last = err;
              await sleep(200);
            }
          }
          if (!up) {
            const what = isProcessAlive(still)
              ? `did not accept connections within ${PG_CTL_WAIT_S + SLOW_START_MS / 1000} s`
              : 'exited while starting';
            throw fail(
              `pg_ctl start failed: the server ${what} (${out})\n--- server log (end):\n${redactLog(readLogFrom(logFile, from))}`,
              last,
            );
          }
          break;
        }
        const log = readLogFrom(logFile, from);
        if (portTakenIn(log) && moves < MAX_PORT_MOVES) {
          const old = serverPort;
          serverPort = await init.newPort();
          moves++;
          tried.push(`port ${old} was taken, moved to ${serverPort}`);
          node.writeNodeConf(conf.primaryServerPort, conf.extraConf);
          continue;
        }
        if (Date.now() > deadline || hopelessIn(log)) {
          const why = portTakenIn(log)
            ? `port ${serverPort} was taken (moved ${moves} times)`
            : /shared memory block .* is still in use/.test(log)
              ? 'the shared memory of a killed server is still in use'
              : hopelessIn(log)
                ? 'its configuration or data directory is wrong'
                : 'see the server log';
          throw fail(
            `pg_ctl start failed (${why}): ${out}${tried.length ? `\n(${tried.join('; ')})` : ''}\n--- server log (end):\n${redactLog(log)}`,
          );
        }
        await sleep(200);
      }
      pid = readPid();
      init.onPid();
      if (moves > 0) await init.onPortChanged?.();
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
      await waitUntil(`replay to reach ${lsn}`, opts.timeoutMs ?? 120_000, async () => {
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
