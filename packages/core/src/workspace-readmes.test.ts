// Repository shape: every name a package exports from its entry point, and every error code it
// adds, appears in that package's README. A public function nobody can read about, or a code a
// user cannot look up, is a bug (the README is the contract); this keeps the two from drifting.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packagesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

const packages = readdirSync(packagesDir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(packagesDir, d.name, 'src', 'index.ts')))
  .map((d) => d.name);

/**
 * Values exported by `src/index.ts` (functions, classes, constants): `export { a, b as c } from`,
 * `export function|const|class x`. Types (`type T` in a list, `export type { ... }`) are left out:
 * a README documents them where they are used ("and the types").
 */
function exportedNames(source: string): string[] {
  const names = new Set<string>();
  for (const m of source.matchAll(/^export\s+\{([^}]*)\}/gm)) {
    for (const part of m[1]!.split(',')) {
      const item = part.trim();
      if (item === '' || item.startsWith('type ')) continue;
      const name = item
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) names.add(name);
    }
  }
  for (const m of source.matchAll(
    /^export\s+(?:declare\s+)?(?:async\s+)?(?:function\*?|const|let|class|enum)\s+([A-Za-z_$][\w$]*)/gm,
  )) {
    names.add(m[1]!);
  }
  return [...names];
}

/** Codes listed in `src/error-codes.ts`'s frozen list. */
function errorCodes(source: string): string[] {
  const list = source.slice(source.indexOf('Object.freeze(['));
  return [...list.matchAll(/'([A-Z][A-Z0-9_]*)'/g)].map((m) => m[1]!);
}

/** Event names: the keys of every `export interface ...Events { name: [payload] }` in the package's sources. */
function eventNames(dir: string): string[] {
  const names: string[] = [];
  for (const file of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts')) continue;
    const source = readFileSync(join(dir, file), 'utf8');
    for (const m of source.matchAll(/^export interface \w*Events\b[^{]*\{([\s\S]*?)^\}/gm)) {
      for (const k of m[1]!.matchAll(/^ {2}'?([A-Za-z]\w*)'?\??:\s*\[/gm)) names.push(k[1]!);
    }
  }
  return names;
}

describe('package READMEs', () => {
  it('finds the packages and their exports', () => {
    expect(packages).toEqual(expect.arrayContaining(['core', 'router', 'tx', 'pg-multiverse']));
    const sample =
      "export { a, b as c, type T } from './x.js';\nexport type { U } from './u.js';\nexport function f() {}";
    expect(exportedNames(sample)).toEqual(['a', 'c', 'f']);
    expect(eventNames(join(packagesDir, 'router', 'src'))).toEqual(
      expect.arrayContaining(['nodeDown', 'queryExecuted']),
    );
  });

  for (const name of packages) {
    it(`${name}: every export and error code is documented`, () => {
      const readme = readFileSync(join(packagesDir, name, 'README.md'), 'utf8');
      const index = readFileSync(join(packagesDir, name, 'src', 'index.ts'), 'utf8');
      const missing = exportedNames(index).filter((n) => !new RegExp(`\\b${n.replace(/\$/g, '\\$')}\\b`).test(readme));
      const codesFile = join(packagesDir, name, 'src', 'error-codes.ts');
      if (existsSync(codesFile)) {
        for (const code of errorCodes(readFileSync(codesFile, 'utf8'))) {
          if (!readme.includes(code)) missing.push(`error code ${code}`);
        }
      }
      for (const event of eventNames(join(packagesDir, name, 'src'))) {
        if (!new RegExp(`\\b${event}\\b`).test(readme)) missing.push(`event ${event}`);
      }
      expect(missing, `not in packages/${name}/README.md`).toEqual([]);
    });
  }
});
