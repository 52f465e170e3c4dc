import { type Balancer, type NodeState, quoteIdent, recordLatency } from '@pg-multiverse/core';
import { uniqueName, waitForReplicas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { healthAware, leastConnections, responseTime, roundRobin } from '../src/index.js';
import { makeNode } from '../src/testing.js';

// Two real streaming replicas of the shared topology. One of them is made slow
// server-side: the same SQL runs everywhere, but a function checks which
// server it runs on (inet_server_port) and sleeps 100 ms on the slow one.
// A small driver does what the router does: pick, count in flight, run,
// record the latency on the NodeState (core's recordLatency), call observe().

const ctx = inject('pgmTopology');
const cluster = ctx.config.users_cluster!;
const schema = uniqueName('bal');
const fn = `${quoteIdent(schema)}.read_row()`;
const slowId = cluster.replicas[1]!.id;
const slowPort = ctx.clusters.users_cluster!.replicas.find((r) => r.id === slowId)!.serverPort;
const pools = new Map<string, pg.Pool>();
let primary: pg.Pool;

async function expectFunction(pool: pg.Pool): Promise<void> {
  const { rows } = await pool.query('SELECT to_regprocedure($1) IS NOT NULL AS ok', [`${schema}.read_row()`]);
  if (!rows[0].ok) throw new Error(`function ${fn} not on a replica that replayed its creation`);
}

beforeAll(async () => {
  const conn = (c: (typeof cluster.replicas)[number], max: number) =>
    new pg.Pool({ host: c.host, port: c.port, database: c.database, user: c.user, password: c.password, max });
  primary = conn(cluster.primary, 1);
  await primary.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
  await primary.query(
    `CREATE FUNCTION ${fn} RETURNS int LANGUAGE sql AS $$
       SELECT CASE WHEN inet_server_port() = ${Number(slowPort)} THEN (SELECT 1 FROM pg_sleep(0.1)) ELSE 1 END
     $$`,
  );
  await waitForReplicas(cluster);
  for (const r of cluster.replicas) {
    const pool = conn(r, 4);
    pools.set(r.id, pool);
    await expectFunction(pool);
  }
});

afterAll(async () => {
  await primary?.query(`DROP SCHEMA IF EXISTS ${quoteIdent(schema)} CASCADE`);
  await Promise.all([...pools.values(), primary].map((p) => p?.end()));
});

/** Runs `reads` reads through `balancer` with `concurrency` workers; returns picks per node id. */
async function drive(balancer: Balancer, reads: number, concurrency = 4): Promise<Record<string, number>> {
  const states: NodeState[] = cluster.replicas.map((r) => makeNode(r.id, {}, 'users_cluster'));
  const counts: Record<string, number> = Object.fromEntries(states.map((s) => [s.id, 0]));
  let left = reads;
  const worker = async () => {
    while (left-- > 0) {
      const node = balancer.pick(states, { clusterId: 'users_cluster', now: performance.now() })!;
      counts[node.id]!++;
      node.inFlight++;
      const t0 = performance.now();
      let ok = true;
      try {
        await pools.get(node.id)!.query(`SELECT ${fn} AS v`);
      } catch {
        ok = false;
      } finally {
        node.inFlight--;
      }
      const t1 = performance.now();
      const ms = t1 - t0;
      recordLatency(node, ms, ok, t1);
      balancer.observe?.(node, ms, ok);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (process.env.PGM_BALANCER_DEBUG) console.log(balancer.name, counts);
  return counts;
}

describe('balancers against real replicas, one of them slow', () => {
  it('the slow replica really is slow, and round robin still sends it half the reads', async () => {
    // The function sleeps exactly on the slow replica's server, not on the other one.
    const onSlow = await pools.get(slowId)!.query(`SELECT inet_server_port() = $1 AS slow, ${fn} AS v`, [slowPort]);
    expect(onSlow.rows[0]).toEqual({ slow: true, v: 1 });
    const fastId = cluster.replicas[0]!.id;
    const onFast = await pools.get(fastId)!.query(`SELECT inet_server_port() = $1 AS slow, ${fn} AS v`, [slowPort]);
    expect(onFast.rows[0]).toEqual({ slow: false, v: 1 });
    const counts = await drive(roundRobin(), 40);
    expect(counts[slowId]).toBeGreaterThanOrEqual(19);
    expect(counts[slowId]).toBeLessThanOrEqual(21);
  });

  it('responseTime shifts reads away from the slow replica', async () => {
    const counts = await drive(responseTime(), 400);
    expect(counts[slowId]! / 400).toBeLessThan(0.1);
  });

  it('healthAware (healthThreshold 80) shifts reads away from the slow replica', async () => {
    const counts = await drive(healthAware({ healthThreshold: 80 }), 400);
    expect(counts[slowId]! / 400).toBeLessThan(0.1);
  });

  it('healthAware with the default threshold still gives the slow replica well under half', async () => {
    const counts = await drive(healthAware(), 400);
    expect(counts[slowId]! / 400).toBeLessThan(0.2);
  });

  it('leastConnections gives the slow replica well under half under concurrency (its queries pile up)', async () => {
    const counts = await drive(leastConnections(), 400, 4);
    expect(counts[slowId]! / 400).toBeLessThan(0.35);
  });
});
