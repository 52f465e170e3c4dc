import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// vitest 5's reporter calls Map.groupBy (Node 21+); this machine runs Node 20.
if (typeof (Map as { groupBy?: unknown }).groupBy !== 'function') {
  (Map as unknown as { groupBy: unknown }).groupBy = <K, V>(items: Iterable<V>, key: (v: V, i: number) => K) => {
    const out = new Map<K, V[]>();
    let i = 0;
    for (const v of items) {
      const k = key(v, i++);
      const list = out.get(k);
      if (list) list.push(v);
      else out.set(k, [v]);
    }
    return out;
  };
}

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// Tests import sibling packages from source, so a change is tested without a rebuild.
// (Some tests run the built packages: the CLI binaries, pack-smoke. `pnpm test` builds first; the
// integration project's first global setup builds once, before any test file, when a dist is stale.
// No test file builds: one rebuilding dist while another runs it fails both.)
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@pg-multiverse\/balancer\/testing$/, replacement: pkg('balancer').replace(/index\.ts$/, 'testing.ts') },
      { find: /^@pg-multiverse\/core\/testing$/, replacement: pkg('core').replace(/index\.ts$/, 'testing.ts') },
      {
        find: /^@pg-multiverse\/(core|balancer|cache|router|tx|migrate|reshard|cli|testkit)$/,
        replacement: fileURLToPath(new URL('./packages/$1/src/index.ts', import.meta.url)),
      },
      { find: /^pg-multiverse$/, replacement: pkg('pg-multiverse') },
      {
        find: /^@pg-multiverse\/cache\/testing$/,
        replacement: fileURLToPath(new URL('./packages/cache/src/testing.ts', import.meta.url)),
      },
    ],
  },
  test: {
    // Bounds for a hung test, not measures of speed: the suite runs on loaded 2-core machines, where
    // starting a topology or a move under load can take minutes.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 2,
    // `unit`: tests next to the code (src/), no servers; `integration`: real servers, one shared topology
    // started by the global setup. `pnpm test` runs both; `pnpm test:unit` only the first.
    projects: [
      // One worker runs many unit files (no servers, no globals left changed): vitest gives a new worker
      // 60 s to answer, and on a loaded 2-core machine three of the ~70 forks started back to back for
      // these short files did not (all tests passed, the run failed on 'Failed to start forks worker').
      { extends: true, test: { name: 'unit', include: ['packages/*/src/**/*.test.ts'], isolate: false } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.test.ts', 'examples/test/**/*.test.ts', 'bench/soak/*.test.ts'],
          globalSetup: ['./scripts/vitest-dist-setup.ts', './packages/testkit/src/vitest-global-setup.ts'],
        },
      },
    ],
  },
});
