import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIo } from './io.js';
import { run } from './run.js';
import { VERSION } from './version.js';

const empty = mkdtempSync(join(tmpdir(), 'pgm-cli-run-'));
afterAll(() => rmSync(empty, { recursive: true, force: true }));

async function pgm(argv: string[], opts: { tty?: boolean; env?: Record<string, string> } = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s), isTTY: opts.tty ?? false },
    stderr: { write: (s: string) => (stderr += s) },
    env: opts.env ?? {},
    cwd: empty,
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

describe('run', () => {
  it('prints the real package version', async () => {
    const r = await pgm(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
    const j = await pgm(['--version', '--json']);
    expect(JSON.parse(j.stdout)).toEqual({
      ok: true,
      command: 'version',
      name: '@pg-multiverse/cli',
      version: VERSION,
    });
  });

  it('prints global help listing every command', async () => {
    const r = await pgm(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['create', 'migrate', 'status', 'rollback', 'list']) expect(r.stdout).toContain(c);
    expect(r.stdout).toContain('--config FILE');
  });

  it('prints per-command help, also via "pgm help <command>"', async () => {
    const a = await pgm(['migrate', '--help']);
    const b = await pgm(['help', 'migrate']);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    for (const f of ['--target', '--parallel', '--max-parallel', '--dry-run', '--continue-on-error', '--json']) {
      expect(a.stdout).toContain(f);
    }
    const rb = await pgm(['rollback', '-h']);
    for (const f of ['--steps', '--force']) expect(rb.stdout).toContain(f);
  });

  it('no colours unless on a terminal; NO_COLOR wins over a terminal', async () => {
    expect((await pgm(['--help'])).stdout).not.toContain('\u001b[');
    expect((await pgm(['--help'], { tty: true })).stdout).toContain('\u001b[');
    expect((await pgm(['--help'], { tty: true, env: { NO_COLOR: '1' } })).stdout).not.toContain('\u001b[');
    expect((await pgm(['--help', '--color'])).stdout).toContain('\u001b[');
  });

  it('exits 2 with a suggestion for an unknown command or flag', async () => {
    const r = await pgm(['migrat']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Did you mean "migrate"?');
    expect(r.stdout).toBe('');
    const f = await pgm(['status', '--verbos']);
    expect(f.code).toBe(2);
    expect(f.stderr).toContain('"--verbose"');
  });

  it('exits 2 without a command', async () => {
    const r = await pgm([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage:');
  });

  it('prints exactly one JSON document for usage errors with --json', async () => {
    const r = await pgm(['migrat', '--json']);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout);
    expect(doc).toMatchObject({ ok: false, exitCode: 2, error: { code: 'INVALID_ARGUMENT' } });
    expect(doc.error.details.suggestion).toBe('migrate');
  });

  it('exits 2 when no configuration is found, naming what was looked for', async () => {
    const r = await pgm(['status']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('pgm.config.json');
    expect(r.stderr).toContain('DATABASE_URL');
  });

  it('checks flag combinations before connecting', async () => {
    const r = await pgm(['rollback', '--steps', '1', '--target', '2024'], {
      env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('either --steps');
    const c = await pgm(['create']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('Missing the migration name');
    const e = await pgm(['create', 'x', '--ext', 'py']);
    expect(e.code).toBe(2);
  });

  it('rejects an unknown --schemas name with a suggestion, without connecting', async () => {
    const r = await pgm(['status', '--clusters', 'defualt'], {
      env: { DATABASE_URL: 'postgres://u:p@127.0.0.1:1/db' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Did you mean "default"?');
  });
});
