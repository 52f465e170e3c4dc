import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { inject } from 'vitest';
import { MigrationManager } from '../src/index.js';
import type { MigrationManagerOptions } from '../src/types.js';

/**
 * A sandbox on the shared topology: two schemas on users_cluster, one on
 * commerce_cluster (unique names), a temp migrations folder, admin clients.
 */
export async function sandbox() {
  const { config } = inject('pgmTopology');
  const u1 = uniqueName('mu');
  const u2 = uniqueName('mv');
  const c1 = uniqueName('mc');
  const clusters = withSchemas(config, { users_cluster: [u1, u2], commerce_cluster: [c1] });
  const dir = await mkdtemp(join(tmpdir(), 'pgm-migrate-'));
  const admin = {
    users_cluster: new pg.Pool({ ...config.users_cluster!.primary, max: 2 }),
    commerce_cluster: new pg.Pool({ ...config.commerce_cluster!.primary, max: 2 }),
  };
  const managers: MigrationManager[] = [];
  const controlSchema = uniqueName('ctl');
  return {
    clusters,
    config,
    dir,
    u1,
    u2,
    c1,
    admin,
    controlSchema,
    /** A manager with a private control schema (so tests do not see each other's tables). */
    manager(opts: Partial<MigrationManagerOptions> = {}) {
      const mm = new MigrationManager({ clusters, migrationsPath: dir, controlSchema, lockTimeout: 10_000, ...opts });
      managers.push(mm);
      return mm;
    },
    async write(name: string, text: string) {
      const file = join(dir, name);
      await writeFile(file, text);
      return file;
    },
    async tables(cluster: 'users_cluster' | 'commerce_cluster', schema: string): Promise<string[]> {
      const r = await admin[cluster].query<{ t: string }>(
        'SELECT table_name AS t FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1',
        [schema],
      );
      return r.rows.map((x) => x.t);
    },
    async history(cluster: 'users_cluster' | 'commerce_cluster', schema: string, table = 'pg_multiverse_migrations') {
      const r = await admin[cluster].query<{
        version: string;
        checksum: string;
        applied_by: string;
        execution_ms: number;
      }>(
        `SELECT version, checksum, applied_by, execution_ms FROM "${controlSchema}"."${table}" WHERE schema_name = $1 ORDER BY id`,
        [schema],
      );
      return r.rows;
    },
    async cleanup() {
      for (const m of managers) await m.close();
      for (const [cluster, schemas] of [
        ['users_cluster', [u1, u2]],
        ['commerce_cluster', [c1]],
      ] as const) {
        for (const s of [...schemas, controlSchema]) await admin[cluster].query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      }
      await admin.users_cluster.end();
      await admin.commerce_cluster.end();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type Sandbox = Awaited<ReturnType<typeof sandbox>>;
