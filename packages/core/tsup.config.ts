import { defineConfig } from 'tsup';

export default defineConfig({
  // `testing` is a separate entry so the main entry never imports vitest.
  entry: ['src/index.ts', 'src/testing.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  sourcemap: true,
  external: ['vitest'],
});
