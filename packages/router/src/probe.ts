import pg from 'pg';
import { parseLsn } from './lsn.js';
import { isConnectionError, isRefusal } from './pg-errors.js';

/** What one health probe saw. */
export interface ProbeResult {
  ok: boolean;
  /** Round trip of the probe (connect included when it had to connect), ms. */
  responseTime: number;
  inRecovery?: boolean;
  /** Primary: `pg_current_wal_lsn()`. Replica: `pg_last_wal_replay_lsn()`. */
  lsn?: bigint;
  /** Replica: ms since the last replayed transaction's commit time, null if none replayed yet. */
  replayAgeMs?: number | null;
  error?: Error;
  /**
   * Failed probe only: its last attempt, on a connection opened by this probe,
   * was refused (`isRefusal`: refused/reset/closed, `08xxx`, `57P01`-`57P03`)
   * rather than timed out or answered with another error.
   */
  refused?: boolean;
}

export interface Prober {
  probe(): Promise<ProbeResult>;
  close(): void;
}

const PROBE_SQL = `SELECT pg_is_in_recovery() AS r,
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS l,
  (EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000)::float8 AS a`;

class ProbeTimeout extends Error {
  override name = 'ProbeTimeout';
}

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ProbeTimeout(`health probe timed out after ${Math.round(ms)} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A node's health probe: one dedicated connection (not from the app pool, so
 * probes never queue behind queries), reconnected after any failure. Every
 * probe is bounded by `timeoutMs` overall, so a black-holed node cannot hang
 * it; up to `attempts` connection attempts fit in that budget (25 ms, 50 ms,
 * ... apart), retried only after connection-level errors. A failure on the
 * connection kept from an earlier probe (it may have gone stale while idle)
 * costs no attempt: the probe reconnects at once, so a verdict is always
 * about a fresh connection.
 */
export function createProber(clientConfig: Record<string, unknown>, timeoutMs: number, attempts: number): Prober {
  let client: pg.Client | undefined;
  let closed = false;

  function discard(): void {
    const c = client;
    client = undefined;
    if (!c) return;
    (c as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream?.destroy?.();
    c.end().catch(() => undefined);
  }

  async function connect(budget: number): Promise<pg.Client> {
    if (client) return client;
    const c = new pg.Client({
      ...clientConfig,
      connectionTimeoutMillis: Math.max(1, Math.round(budget)),
      application_name: 'pg-multiverse-monitor',
    } as pg.ClientConfig);
    c.on('error', () => {
      if (client === c) discard();
    });
    client = c;
    try {
      await within(c.connect(), budget);
    } catch (err) {
      discard();
      throw err;
    }
    return c;
  }

  async function probe(): Promise<ProbeResult> {
    try {
      return await attempt();
    } finally {
      if (closed) discard();
    }
  }

  async function attempt(): Promise<ProbeResult> {
    const started = performance.now();
    const deadline = started + timeoutMs;
    const max = Math.max(1, attempts);
    let lastErr: Error = new Error('health probe not attempted');
    let refused = false;
    for (let attempt = 0; attempt < max && !closed; attempt++) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      const reused = client !== undefined;
      try {
        const c = await connect(left);
        const res = await within(c.query(PROBE_SQL), Math.max(1, deadline - performance.now()));
        const row = res.rows[0] as { r: boolean; l: string | null; a: number | null };
        const lsn = parseLsn(row.l);
        return {
          ok: true,
          responseTime: performance.now() - started,
          inRecovery: row.r,
          ...(lsn !== undefined ? { lsn } : {}),
          replayAgeMs: row.a === null ? null : Math.max(0, Number(row.a)),
        };
      } catch (err) {
        lastErr = err instanceof Error ? err : new Error(String(err));
        discard();
        refused = false;
        if (err instanceof ProbeTimeout || !isConnectionError(err)) break;
        if (reused) {
          attempt--; // the kept connection died while idle: says nothing yet, reconnect at once
          continue;
        }
        refused = isRefusal(err);
        if (attempt + 1 < max) await sleep(Math.min(25 * (attempt + 1), Math.max(0, deadline - performance.now())));
      }
    }
    return { ok: false, responseTime: performance.now() - started, error: lastErr, refused };
  }

  return {
    probe,
    close() {
      closed = true;
      discard();
    },
  };
}
