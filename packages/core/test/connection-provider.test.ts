import { plainPoolProvider, uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type ConnectionProvider, type PoolLike, poolProvider, quoteIdent, runStatement } from '../src/index.js';
import { testConnectionProvider } from '../src/testing.js';

// The ConnectionProvider contract, proved against the shared topology's
// commerce primary: core's poolProvider (callback and promise paths) and a thin
// application wrapper over pg.Pool without `run` (the router's fallback).

const ctx = inject('pgmTopology');
const conn = ctx.config.commerce_cluster!.primary as pg.PoolConfig;
const schema = uniqueName('cp');
const searchPath = `${quoteIdent(schema)}, public`;

beforeAll(async () => {
  const c = new pg.Client(conn);
  await c.connect();
  try {
    await c.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  } finally {
    await c.end();
  }
});

afterAll(async () => {
  const c = new pg.Client(conn);
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  } finally {
    await c.end();
  }
});

/** Counts what each session receives: one `query` call is one statement text sent (one Sync). */
interface Counted {
  statements: string[];
}

/** An application's own provider: a thin wrapper over pg.Pool, no `run` (testkit's plainPoolProvider). */
function thinWrapper(pool: pg.Pool, id: string, counted?: Counted): ConnectionProvider {
  const onStatement = counted ? (t: string) => void counted.statements.push(t) : undefined;
  return plainPoolProvider(pool, id, onStatement ? { onStatement } : {}) as unknown as ConnectionProvider;
}

const pool = (extra: pg.PoolConfig = {}) => new pg.Pool({ ...conn, max: 2, ...extra });

/**
 * `poolProvider` over a pool of one session whose `query` calls are counted: a text as itself,
 * anything else (a pipeline, a prepared config) as `other`.
 */
async function countedProvider(
  other: string,
): Promise<{ provider: ReturnType<typeof poolProvider>; counted: Counted }> {
  const p = pool({ max: 1 });
  const counted: Counted = { statements: [] };
  const provider = poolProvider(p as unknown as PoolLike, 'c/primary');
  const client = await p.connect();
  const q = client.query.bind(client) as (...a: unknown[]) => unknown;
  (client as unknown as { query: (...a: unknown[]) => unknown }).query = (...a: unknown[]) => {
    counted.statements.push(typeof a[0] === 'string' ? a[0] : other);
    return q(...a);
  };
  client.release();
  return { provider, counted };
}

testConnectionProvider(() => poolProvider(pool() as unknown as PoolLike, 'commerce_cluster/primary'), {
  name: 'poolProvider over pg.Pool',
  schema,
});
testConnectionProvider(
  () => poolProvider(pool() as unknown as PoolLike, 'commerce_cluster/primary', { callbacks: false }),
  { name: 'poolProvider, promise API only', schema },
);
testConnectionProvider(() => thinWrapper(pool(), 'commerce_cluster/primary'), {
  name: 'thin wrapper over pg.Pool (no run)',
  schema,
});

describe('runStatement: what a provider costs', () => {
  it('poolProvider: one statement per query once a session is on the search_path', async () => {
    // Count what the one pooled session receives.
    const { provider, counted } = await countedProvider('?');
    try {
      for (let i = 0; i < 20; i++) {
        const out = await runStatement<{ s: string }>(provider, 'SELECT current_schema() AS s, $1::int', [i], {
          searchPath,
        });
        expect(out.result?.rows[0]?.s).toBe(schema);
      }
      expect(counted.statements.filter((t) => t.startsWith('SET search_path'))).toHaveLength(1);
      expect(counted.statements).toHaveLength(21);
    } finally {
      await provider.end();
    }
  });

  it('poolProvider.withConnection: the reset of a used session travels with a BEGIN, and survives its rollback', async () => {
    const { provider, counted } = await countedProvider('?');
    const path = "SELECT current_setting('search_path') AS v";
    try {
      const defaultPath = (await provider.query<{ v: string }>(path)).rows[0]!.v;
      await provider.withConnection((c) => c.query(`SET search_path TO ${searchPath}`));
      counted.statements.length = 0;
      // One message: the reset, BEGIN, the read; the result is the text's own (BEGIN's and the read's).
      const res = await provider.withConnection(async (c) => {
        const r = (await c.query(`BEGIN; ${path}`)) as unknown as { command: string; rows: { v: string }[] }[];
        await c.query('ROLLBACK');
        return r;
      });
      expect(counted.statements).toEqual([`RESET ALL; BEGIN; ${path}`, 'ROLLBACK']);
      expect(res.map((r) => r.command)).toEqual(['BEGIN', 'SELECT']);
      expect(res[1]!.rows[0]!.v).toBe(defaultPath);
      // The rollback undid that RESET ALL too: the session is reset again before it is used again.
      counted.statements.length = 0;
      expect((await provider.query<{ v: string }>(path)).rows[0]!.v).toBe(defaultPath);
      expect(counted.statements[0]).toBe('RESET ALL');
      // A first statement with parameters (or not opening a transaction) gets the reset on its own first.
      await provider.withConnection((c) => c.query(`SET search_path TO ${searchPath}`));
      counted.statements.length = 0;
      const one = await provider.withConnection((c) => c.query<{ v: string; n: number }>(`${path}, $1::int AS n`, [7]));
      expect(one.rows).toEqual([{ v: defaultPath, n: 7 }]);
      expect(counted.statements).toEqual(['RESET ALL', `${path}, $1::int AS n`]);
    } finally {
      await provider.end();
    }
  });

  it('poolProvider.withConnection: queryAfter sends a prelude and a statement in one round trip, stopping at a failing prelude', async () => {
    const { provider, counted } = await countedProvider('pipeline');
    const table = `${quoteIdent(schema)}.after_t`;
    try {
      await provider.query(`CREATE TABLE ${table} (id int, note text)`);
      await provider.withConnection((c) => c.query(`SET search_path TO ${searchPath}`)); // leaves the session dirty
      counted.statements.length = 0;
      const out = await provider.withConnection(async (c) => {
        expect(typeof c.queryAfter).toBe('function');
        const r = await c.queryAfter!<{ id: number; note: string }>(
          ['BEGIN', "SELECT 41 AS a, NULL AS b, current_setting('search_path') AS p", 'SAVEPOINT s1'],
          `INSERT INTO ${table} VALUES ($1, $2) RETURNING id, note`,
          [1, 'one'],
        );
        await c.query('COMMIT');
        return r;
      });
      // The owed RESET ALL, the prelude and the statement went as one pipeline: one call, one round trip.
      expect(counted.statements).toEqual(['pipeline', 'COMMIT']);
      expect(out.result.rows).toEqual([{ id: 1, note: 'one' }]);
      expect(out.result.command).toBe('INSERT');
      expect(out.prelude).toHaveLength(3);
      expect(out.prelude[0]).toEqual([]);
      expect(out.prelude[1]!.slice(0, 2)).toEqual(['41', null]);
      expect(out.prelude[1]![2]).not.toContain(schema); // the reset ran first
      expect(out.prelude[2]).toEqual([]);
      // A failing prelude statement: the statement after it never runs, the call rejects with its error.
      const err = await provider
        .withConnection((c) =>
          c.queryAfter!(['BEGIN', 'SELECT 1 / 0'], `INSERT INTO ${table} VALUES ($1, $2)`, [2, 'two']),
        )
        .catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('22012');
      // A failing statement after a good prelude: rejected with the statement's error, the transaction aborted.
      const err2 = await provider
        .withConnection(async (c) => {
          try {
            return await c.queryAfter!(['BEGIN'], `INSERT INTO ${table} VALUES ($1::int, 'x')`, ['not a number']);
          } finally {
            await c.query('ROLLBACK');
          }
        })
        .catch((e: unknown) => e);
      expect((err2 as { code?: string }).code).toBe('22P02');
      const rows = await provider.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`);
      expect(rows.rows).toEqual([{ id: 1 }]);
      // The session still works after both failures.
      expect((await provider.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    } finally {
      await provider.end();
    }
  });

  it('poolProvider.withConnection: queryAfter without values takes a text of several statements, one round trip', async () => {
    const { provider, counted } = await countedProvider('pipeline');
    const table = `${quoteIdent(schema)}.after_simple`;
    try {
      await provider.withConnection((c) => c.query(`SET search_path TO ${searchPath}`)); // leaves the session dirty
      counted.statements.length = 0;
      const out = await provider.withConnection(async (c) => {
        const several = await c.queryAfter!(
          ['BEGIN', "SELECT current_user = session_user AS plain, current_setting('search_path') AS p"],
          `CREATE TABLE ${table} (id int); INSERT INTO ${table} VALUES (1), (2); SELECT id FROM ${table} ORDER BY id`,
        );
        const one = await c.queryAfter!(['SAVEPOINT s1'], `SELECT count(*)::int AS n FROM ${table}`, []);
        const none = await c.queryAfter!(['RELEASE SAVEPOINT s1'], '-- nothing');
        await c.query('COMMIT');
        return { several, one, none };
      });
      // The owed RESET ALL, the prelude and the text: one message each time.
      expect(counted.statements).toEqual(['pipeline', 'pipeline', 'pipeline', 'COMMIT']);
      // The text's own results, as query(text) gives them: an array for several statements.
      const results = out.several.result as unknown as Array<{ command: string; rows: unknown[] }>;
      expect(results.map((r) => r.command)).toEqual(['CREATE', 'INSERT', 'SELECT']);
      expect(results[2]!.rows).toEqual([{ id: 1 }, { id: 2 }]);
      // Prelude rows as text, after the reset (the SET above did not reach this checkout).
      expect(out.several.prelude[0]).toEqual([]);
      expect(out.several.prelude[1]![0]).toBe('t');
      expect(out.several.prelude[1]![1]).not.toContain(schema);
      expect(out.one.result.rows).toEqual([{ n: 2 }]);
      expect(out.one.prelude).toEqual([[]]);
      expect(out.none.result.rows).toEqual([]);
      // A failing prelude statement keeps the text from running.
      const err = await provider
        .withConnection((c) => c.queryAfter!(['SELECT 1 / 0'], `INSERT INTO ${table} VALUES (3)`))
        .catch((e: unknown) => e);
      expect((err as { code?: string }).code).toBe('22012');
      expect((await provider.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows).toEqual([{ n: 2 }]);
    } finally {
      await provider.end();
    }
  });

  for (const pipeline of [false, true]) {
    it(`a provider without run (pg pipeline: ${pipeline}): SET, statement, RESET, and a clean session`, async () => {
      const counted: Counted = { statements: [] };
      const provider = thinWrapper(pool({ max: 1, pipeline } as pg.PoolConfig), 'c/primary', counted);
      try {
        const defaultPath = (await provider.query<{ v: string }>("SELECT current_setting('search_path') AS v")).rows[0]!
          .v;
        counted.statements.length = 0;
        const out = await runStatement<{ s: string; n: number }>(
          provider,
          'SELECT current_schema() AS s, $1::int AS n',
          [5],
          { searchPath },
        );
        expect(out.result?.rows).toEqual([{ s: schema, n: 5 }]);
        expect(counted.statements).toEqual([
          `SET search_path TO ${searchPath}`,
          'SELECT current_schema() AS s, $1::int AS n',
          'RESET search_path',
        ]);
        // No schema, no position work: the provider's query, one statement.
        counted.statements.length = 0;
        await runStatement(provider, 'SELECT 1', undefined, {});
        expect(counted.statements).toEqual(['SELECT 1']);
        // A failing statement still gets its RESET (each text is its own implicit transaction).
        const settled: boolean[] = [];
        const err = await runStatement(provider, 'SELECT 1 / $1::int', [0], { searchPath }, (ok) =>
          settled.push(ok),
        ).catch((e: unknown) => e);
        expect((err as { code?: string }).code).toBe('22012');
        expect(settled).toEqual([false]);
        expect((await provider.query<{ v: string }>("SELECT current_setting('search_path') AS v")).rows[0]!.v).toBe(
          defaultPath,
        );
        // Position work rides along: read before, write position after.
        counted.statements.length = 0;
        const w = await runStatement(provider, 'SELECT 1', undefined, {
          searchPath,
          readPosition: true,
          captureLsn: true,
        });
        expect(w.position?.inRecovery).toBe(false);
        expect(typeof w.lsn).toBe('bigint');
        expect(counted.statements).toHaveLength(5);
        expect((await provider.query<{ v: string }>("SELECT current_setting('search_path') AS v")).rows[0]!.v).toBe(
          defaultPath,
        );
      } finally {
        await provider.end();
      }
    });
  }
});
