import { afterEach, describe, expect, it } from 'vitest';
import type { ConnectionProvider, SessionRun } from './contracts/connection-provider.js';
import { quoteIdent } from './quote-ident.js';

export interface TestConnectionProviderOptions {
  /** Title of the `describe` block. Default: the provider's `id`. */
  name?: string;
  /**
   * An existing schema other than the session default, used to check search_path
   * handling. Default `information_schema` (exists on every server).
   */
  schema?: string;
  /**
   * How many checkouts to make when checking that session state does not leak:
   * at least the provider's pool size. Default 8.
   */
  checkouts?: number;
}

/**
 * Conformance suite for a `ConnectionProvider` (vitest), against a real
 * PostgreSQL server (a primary). Call it at the top level of a test file with
 * a factory returning a FRESH provider each time (the suite ends it):
 *
 * ```ts
 * import { testConnectionProvider } from '@pg-multiverse/core/testing';
 * testConnectionProvider(() => poolProvider(new pg.Pool({ ...conn, max: 2 }), 'c/primary'));
 * ```
 *
 * Checks `query` (results, errors with their SQLSTATE, recovery after them),
 * `withConnection` (one session, released when `fn` throws, even out of an
 * aborted transaction), that session state set on one checkout (`SET`,
 * search_path) is not seen by later ones, `stats`, that `end` is idempotent,
 * and, when the provider has `run`: search_path applied and not leaking,
 * `settled` called once before the promise settles, the position work
 * (`readPosition`, `captureLsn`, `requireReplayLsn` on a primary) and errors.
 */
export function testConnectionProvider(
  factory: () => ConnectionProvider | Promise<ConnectionProvider>,
  options: TestConnectionProviderOptions = {},
): void {
  const schema = options.schema ?? 'information_schema';
  const checkouts = options.checkouts ?? 8;
  const searchPath = `${quoteIdent(schema)}, public`;

  describe(`ConnectionProvider conformance: ${options.name ?? 'provider'}`, () => {
    const open: ConnectionProvider[] = [];
    const make = async () => {
      const p = await factory();
      open.push(p);
      return p;
    };
    afterEach(async () => {
      for (const p of open.splice(0)) await p.end();
    });

    /** What `n` concurrent plain statements see: every pooled session gets used. */
    const settingsSeen = async (p: ConnectionProvider, setting: string): Promise<string[]> => {
      const rows = await Promise.all(
        Array.from({ length: checkouts }, () =>
          p.query<{ v: string }>('SELECT current_setting($1) AS v, pg_sleep(0.01)', [setting]),
        ),
      );
      return [...new Set(rows.map((r) => r.rows[0]!.v))];
    };

    it('has an id and runs one statement with values, with a pg-shaped result', async () => {
      const p = await make();
      expect(typeof p.id).toBe('string');
      expect(p.id.length).toBeGreaterThan(0);
      const r = await p.query<{ n: number; t: string }>('SELECT $1::int AS n, $2::text AS t', [7, 'x']);
      expect(r.rows).toEqual([{ n: 7, t: 'x' }]);
      expect(r.rowCount).toBe(1);
      expect(r.command).toBe('SELECT');
      expect(r.fields.map((f) => f.name)).toEqual(['n', 't']);
      const none = await p.query('SELECT 1 AS one');
      expect(none.rows).toEqual([{ one: 1 }]);
    });

    it('rejects a failed statement with the server error (SQLSTATE in code) and keeps working', async () => {
      const p = await make();
      for (let i = 0; i < checkouts; i++) {
        const err = await p.query('SELECT 1 / $1::int', [0]).catch((e: unknown) => e);
        expect((err as { code?: string }).code).toBe('22012');
      }
      expect((await p.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    });

    it('withConnection runs fn on one session and resolves to its value', async () => {
      const p = await make();
      const out = await p.withConnection(async (c) => {
        const a = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
        await c.query('CREATE TEMP TABLE pgm_conformance (x int)');
        await c.query('INSERT INTO pgm_conformance VALUES ($1)', [1]);
        const b = await c.query<{ pid: number; n: string }>(
          'SELECT pg_backend_pid() AS pid, count(*)::text AS n FROM pgm_conformance',
        );
        expect(b.rows[0]!.pid).toBe(a.rows[0]!.pid);
        expect(b.rows[0]!.n).toBe('1');
        await c.query('DROP TABLE pgm_conformance');
        return 'done';
      });
      expect(out).toBe('done');
    });

    it('withConnection releases the session when fn throws, even inside an aborted transaction', async () => {
      const p = await make();
      for (let i = 0; i < checkouts + 2; i++) {
        const err = await p
          .withConnection(async (c) => {
            await c.query('BEGIN');
            await c.query('SELECT 1 / 0');
          })
          .catch((e: unknown) => e);
        expect((err as { code?: string }).code).toBe('22012');
      }
      const thrown = new Error('from fn');
      expect(
        await p
          .withConnection(async () => {
            throw thrown;
          })
          .catch((e: unknown) => e),
      ).toBe(thrown);
      // No session is left checked out or inside the aborted transaction.
      const rows = await Promise.all(
        Array.from({ length: checkouts }, () => p.query<{ n: number }>('SELECT 1 AS n, pg_sleep(0.01)')),
      );
      expect(rows.every((r) => r.rows[0]!.n === 1)).toBe(true);
      expect(p.stats().waiting).toBe(0);
    });

    it('session state set on one checkout is not seen by later ones', async () => {
      const p = await make();
      const defaultPath = (await p.query<{ v: string }>("SELECT current_setting('search_path') AS v")).rows[0]!.v;
      const defaultApp = (await p.query<{ v: string }>("SELECT current_setting('application_name') AS v")).rows[0]!.v;
      await Promise.all(
        Array.from({ length: checkouts }, () =>
          p.withConnection(async (c) => {
            await c.query(`SET search_path TO ${searchPath}`);
            await c.query("SET application_name = 'pgm_conformance_leak'");
            await c.query('SELECT pg_sleep(0.01)');
          }),
        ),
      );
      expect(await settingsSeen(p, 'search_path')).toEqual([defaultPath]);
      expect(await settingsSeen(p, 'application_name')).toEqual([defaultApp]);
    });

    it('reports pool counters', async () => {
      const p = await make();
      await p.query('SELECT 1');
      const held = await p.withConnection(async () => p.stats());
      for (const s of [held, p.stats()]) {
        for (const k of ['total', 'idle', 'waiting'] as const) {
          expect(Number.isInteger(s[k])).toBe(true);
          expect(s[k]).toBeGreaterThanOrEqual(0);
        }
        expect(s.idle).toBeLessThanOrEqual(s.total);
      }
      expect(held.total).toBeGreaterThanOrEqual(1);
    });

    it('end() is idempotent', async () => {
      const p = await make();
      await p.query('SELECT 1');
      await p.end();
      await p.end();
    });

    describe('run (optional capability)', () => {
      const withRun = async () => {
        const p = await make();
        return p.run ? (p as ConnectionProvider & Required<Pick<ConnectionProvider, 'run'>>) : undefined;
      };

      it('runs with the asked search_path, and later statements do not see it', async () => {
        const p = await withRun();
        if (!p) return;
        const defaultPath = (await p.query<{ v: string }>("SELECT current_setting('search_path') AS v")).rows[0]!.v;
        for (let i = 0; i < checkouts; i++) {
          const out = await p.run<{ s: string; n: number }>('SELECT current_schema() AS s, $1::int AS n', [i], {
            searchPath,
          });
          expect(out.result?.rows).toEqual([{ s: schema, n: i }]);
          const plain = await p.run<{ v: string }>("SELECT current_setting('search_path') AS v", undefined, {});
          expect(plain.result?.rows[0]?.v).toBe(defaultPath);
        }
        expect(await settingsSeen(p, 'search_path')).toEqual([defaultPath]);
        const inside = await p.withConnection((c) =>
          c.query<{ v: string }>("SELECT current_setting('search_path') AS v"),
        );
        expect(inside.rows[0]!.v).toBe(defaultPath);
      });

      it('calls settled once, before the promise settles: true on success, false on failure', async () => {
        const p = await withRun();
        if (!p) return;
        for (const [text, ok] of [
          ['SELECT 1 AS one', true],
          ['SELECT 1 / 0', false],
        ] as const) {
          for (const session of [{}, { searchPath }, { searchPath, readPosition: true, captureLsn: true }]) {
            const calls: boolean[] = [];
            let callsAtSettle = -1;
            const outcome = await p
              .run(text, undefined, session, (v) => calls.push(v))
              .then(
                (r: SessionRun) => {
                  callsAtSettle = calls.length;
                  return r;
                },
                (e: unknown) => {
                  callsAtSettle = calls.length;
                  return e;
                },
              );
            expect(calls).toEqual([ok]);
            expect(callsAtSettle).toBe(1);
            if (!ok) expect((outcome as { code?: string }).code).toBe('22012');
          }
        }
        // After failures on a search_path, plain statements are back on the default one.
        const defaultPath = (await p.query<{ v: string }>("SELECT current_setting('search_path') AS v")).rows[0]!.v;
        expect(await settingsSeen(p, 'search_path')).toEqual([defaultPath]);
      });

      it('reads the position before and the write position after, on the same session', async () => {
        const p = await withRun();
        if (!p) return;
        const out = await p.run<{ n: number }>('SELECT $1::int AS n', [1], {
          searchPath,
          readPosition: true,
          captureLsn: true,
        });
        expect(out.result?.rows).toEqual([{ n: 1 }]);
        expect(out.position?.inRecovery).toBe(false);
        expect(typeof out.position?.lsn).toBe('bigint');
        expect(typeof out.lsn).toBe('bigint');
        expect(out.lsn! >= out.position!.lsn!).toBe(true);
        // A primary is never behind: the statement runs whatever position is required.
        const far = await p.run<{ n: number }>('SELECT 2 AS n', undefined, { requireReplayLsn: 2n ** 62n });
        expect(far.result?.rows).toEqual([{ n: 2 }]);
        expect(far.position?.inRecovery).toBe(false);
      });

      it('a SET run through run() is not seen by later statements', async () => {
        const p = await withRun();
        if (!p) return;
        const app = (await p.query<{ v: string }>("SELECT current_setting('application_name') AS v")).rows[0]!.v;
        for (let i = 0; i < checkouts; i++) {
          await p.run("SET application_name = 'pgm_conformance_leak'", undefined, { searchPath });
        }
        expect(await settingsSeen(p, 'application_name')).toEqual([app]);
      });
    });
  });
}
