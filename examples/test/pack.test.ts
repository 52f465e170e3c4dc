import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runNode } from './run-child.js';

describe('every package installs and works alone', () => {
  // Packs and installs every package: minutes on a loaded machine; the bound is for a hung child only.
  it('packs, passes publint, installs outside the workspace, imports as ESM and CJS', {
    timeout: 960_000,
  }, async () => {
    const script = fileURLToPath(new URL('../../scripts/pack-smoke.mjs', import.meta.url));
    const r = await runNode([script], { timeoutMs: 900_000 });
    expect(r.status, `signal ${r.signal}\n${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toContain('ok pg-multiverse (ESM + CJS)');
    expect(r.stdout).toContain('ok pg-multiverse without @opentelemetry/api (tracing off, tracing: true refused)');
  });
});
