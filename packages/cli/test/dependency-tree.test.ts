import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const packagesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/** Workspace manifests by package name. */
function workspace(): Map<string, Manifest> {
  const out = new Map<string, Manifest>();
  for (const dir of readdirSync(packagesDir)) {
    try {
      const m = JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) as Manifest;
      out.set(m.name, m);
    } catch {
      // not a package
    }
  }
  return out;
}

/** Every @pg-multiverse/* package reachable through production dependencies of `root`. */
function reachable(root: string, ws: Map<string, Manifest>): Set<string> {
  const seen = new Set<string>();
  const queue = [root];
  while (queue.length) {
    const m = ws.get(queue.shift()!);
    if (!m) continue;
    const deps = { ...m.dependencies, ...m.peerDependencies, ...m.optionalDependencies };
    for (const name of Object.keys(deps)) {
      if (!name.startsWith('@pg-multiverse/') && name !== 'pg-multiverse') continue;
      if (seen.has(name)) continue;
      seen.add(name);
      queue.push(name);
    }
  }
  return seen;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('@pg-multiverse/cli dependency tree', () => {
  it('reaches migrate and core, and no other pg-multiverse package', () => {
    const ws = workspace();
    expect(ws.has('@pg-multiverse/cli')).toBe(true);
    expect([...reachable('@pg-multiverse/cli', ws)].sort()).toEqual(['@pg-multiverse/core', '@pg-multiverse/migrate']);
  });

  it('its runtime dependencies are migrate, core, mri and picocolors (pg as a peer)', () => {
    const m = workspace().get('@pg-multiverse/cli')!;
    expect(Object.keys(m.dependencies ?? {}).sort()).toEqual([
      '@pg-multiverse/core',
      '@pg-multiverse/migrate',
      'mri',
      'picocolors',
    ]);
    expect(Object.keys(m.peerDependencies ?? {})).toEqual(['pg']);
  });

  it('its source imports nothing else', () => {
    const src = join(packagesDir, 'cli', 'src');
    const allowed = /^(node:|\.\.?\/|@pg-multiverse\/(core|migrate)$|mri$|picocolors$|vitest$)/;
    const bad: string[] = [];
    for (const file of sourceFiles(src)) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        if (!allowed.test(m[1]!)) bad.push(`${file}: ${m[1]}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
