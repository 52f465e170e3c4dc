import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { pgm } from './helpers.js';

// `pgm` on a cluster sharded over two servers: one target per shard, named cluster[shard].
const { config } = inject('pgmTopology');
const { id: _a, ...serverA } = config.users_cluster!.primary;
const { id: _b, ...serverB } = config.commerce_cluster!.primary;
const schema = uniqueName('cli_sh');
const controlSchema = uniqueName('ctl');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgm-cli-shards-'));
  mkdirSync(join(dir, 'migrations'));
  writeFileSync(
    join(dir, 'migrations', '20240501000000_events.sql'),
    '-- up\nCREATE TABLE events (id int8 PRIMARY KEY);\n-- down\nDROP TABLE events;\n',
  );
  writeFileSync(
    join(dir, 'pgm.config.json'),
    JSON.stringify({
      clusters: {
        events_cluster: {
          schemas: [schema],
          primary: serverA,
          sharding: {
            strategy: 'hash',
            key: 'id',
            partitions: 2,
            shards: [{ primary: serverA }, { primary: serverB }],
          },
        },
      },
      migrations: { migrationsPath: './migrations', controlSchema },
    }),
  );
});

afterAll(async () => {
  for (const server of [serverA, serverB]) {
    const c = new pg.Client(server);
    await c.connect();
    for (const s of [schema, controlSchema]) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
    await c.end();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pgm on a sharded cluster', () => {
  it('migrates every shard and shows one status row per shard', async () => {
    const m = await pgm(['migrate', '--json'], { cwd: dir });
    expect(m.code).toBe(0);
    const doc = JSON.parse(m.stdout);
    expect(doc.steps.map((s: { shard: string; status: string }) => `${s.shard}:${s.status}`)).toEqual([
      'shard-0:applied',
      'shard-1:applied',
    ]);

    const table = await pgm(['status'], { cwd: dir });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/events_cluster\[shard-0\]\s+\S+\s+1\s+0/);
    expect(table.stdout).toMatch(/events_cluster\[shard-1\]\s+\S+\s+1\s+0/);

    const status = JSON.parse((await pgm(['status', '--json'], { cwd: dir })).stdout);
    expect(status.targets.map((t: { shard: string; applied: number }) => `${t.shard}:${t.applied}`)).toEqual([
      'shard-0:1',
      'shard-1:1',
    ]);
  });
});
