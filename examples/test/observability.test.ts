import { uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { run } from '../observability.js';

const { config: shared } = inject('pgmTopology');

describe('observability example', () => {
  it('spans nest under the request (the transaction under it, its statements under the transaction); /metrics serves Prometheus text', async () => {
    const users = uniqueName('ou');
    const orders = uniqueName('oo');
    for (const [cluster, schema] of [
      ['users_cluster', users],
      ['commerce_cluster', orders],
    ] as const) {
      const admin = new pg.Pool(shared[cluster]!.primary as pg.PoolConfig);
      await admin.query(`CREATE SCHEMA ${schema}`);
      await admin.end();
    }
    const config = withSchemas(shared, { users_cluster: [users], commerce_cluster: [orders] });
    const r = await run(config, { users, orders });

    const request = r.spans.find((s) => s.name === 'GET /orders')!;
    const tx = r.spans.find((s) => s.name === 'pgm.transaction')!;
    expect(tx.parent).toBe(request.id);
    const statements = r.spans.filter((s) => /^SELECT [12] AS/.test(String(s.attributes['db.query.text'])));
    expect(statements).toHaveLength(3);
    expect(statements.filter((s) => s.parent === request.id)).toHaveLength(1); // the query() outside the transaction
    expect(statements.filter((s) => s.parent === tx.id)).toHaveLength(2);
    for (const s of statements) expect(s.attributes['db.system.name']).toBe('postgresql');

    expect(r.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(r.metrics).toMatch(
      /^pgm_query_duration_seconds_count\{cluster="users_cluster",node="[^"]+",role="\w+",kind="read"\} [1-9]/m,
    );
  });
});
