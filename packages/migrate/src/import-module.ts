import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createJiti } from 'jiti';

/**
 * Load a `.ts`, `.mts`, `.cts`, `.js`, `.mjs`, `.cjs` or `.json` module with
 * jiti (no ts-node, no build step) and return its default export, or
 * `module.exports` for CommonJS. Each call reads the file afresh.
 *
 * @example const config = await importModule('./pgm.config.ts');
 */
export async function importModule<T = unknown>(file: string): Promise<T> {
  const abs = resolve(file);
  const jiti = createJiti(pathToFileURL(abs).href, { moduleCache: false, interopDefault: true });
  return (await jiti.import(abs, { default: true })) as T;
}
