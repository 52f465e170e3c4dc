import { defineConfig } from 'tsup';

export default defineConfig({
  // `main` is its own entry so the `pgm` binary of pg-multiverse loads only what a command needs.
  entry: ['src/index.ts', 'src/bin.ts', 'src/main.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  sourcemap: true,
});
