import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('every package installs and works alone', () => {
  it('packs, passes publint, installs outside the workspace, imports as ESM and CJS', () => {
    const script = fileURLToPath(new URL('../../scripts/pack-smoke.mjs', import.meta.url));
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 300_000 });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('ok pg-multiverse (ESM + CJS)');
    expect(r.stdout).toContain('ok pg-multiverse without @opentelemetry/api (tracing off, tracing: true refused)');
  });
});
