import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueName, withSchemas } from '@pg-multiverse/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { run } from '../src/index.js';

const topo = inject('pgmTopology');
const schema = uniqueName('cli_tty');
let dir: string;

async function pgm(argv: string[], tty: boolean) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, {
    stdout: { write: (s: string) => (stdout += s), isTTY: tty },
    stderr: { write: (s: string) => (stderr += s) },
    env: { NO_COLOR: '1' },
    cwd: dir,
  });
  return { code, stdout, stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgm-cli-tty-'));
  writeFileSync(join(dir, 'pgm.config.json'), JSON.stringify(withSchemas(topo.config, { users_cluster: [schema] })));
  mkdirSync(join(dir, 'migrations'));
  for (const [v, table] of [
    ['20240101000000_a', 'a'],
    ['20240102000000_b', 'b'],
  ]) {
    writeFileSync(
      join(dir, 'migrations', `${v}.sql`),
      `-- up\nCREATE TABLE ${table} (id int);\n-- down\nDROP TABLE ${table};\n`,
    );
  }
});

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  const c = new pg.Client(topo.config.users_cluster!.primary);
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await c.end();
});

describe('run() in a terminal', () => {
  it('prints a progress line per step with its duration, then the summary', async () => {
    const r = await pgm(['migrate', '--target', '20240101000000'], true);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^  ✔ 20240101000000_a  ${schema}@users_cluster  \\d+(ms|\\.\\ds)$`));
    expect(lines[1]).toMatch(/^✔ Applied 1 migration to 1 target \(1 step\) in /);
    expect(r.stdout).not.toContain('\u001b['); // NO_COLOR
  });

  it('--json stays one document even on a terminal', async () => {
    const r = await pgm(['migrate', '--json'], true);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.steps.map((s: { version: string }) => s.version)).toEqual(['20240102000000_b']);
    const v = await pgm(['rollback', '--target', '20240101000000_a', '--json', '--verbose'], true);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).rolledBack).toBe(1);
    expect(v.stderr).toContain('↩ 20240102000000_b'); // progress to stderr with --json --verbose
  });
});
