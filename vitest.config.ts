import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// Tests import sibling packages from source, so a change is tested without a rebuild.
// (The CLI tests spawn the built binary; `pnpm test` builds first.)
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@pg-multiverse\/balancer\/testing$/, replacement: pkg('balancer').replace(/index\.ts$/, 'testing.ts') },
      {
        find: /^@pg-multiverse\/(core|balancer|cache|router|tx|migrate|cli|testkit)$/,
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
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/test/**/*.test.ts'],
    globalSetup: ['./packages/testkit/src/vitest-global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
