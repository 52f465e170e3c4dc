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

/** The package graph as docs/ARCHITECTURE.md states it (the table between the package-graph markers). */
function documentedGraph(): Map<string, string[]> {
  const doc = readFileSync(join(packagesDir, '..', 'docs', 'ARCHITECTURE.md'), 'utf8');
  const block = /<!-- package-graph:start -->([\s\S]*?)<!-- package-graph:end -->/.exec(doc)?.[1] ?? '';
  const out = new Map<string, string[]>();
  for (const line of block.split('\n')) {
    const m = /^\| `([^`]+)` \| ([^|]+) \|/.exec(line);
    if (!m) continue;
    const deps = m[2]!.trim() === '(none)' ? [] : m[2]!.split(',').map((d) => d.trim());
    out.set(
      m[1]!,
      deps.map((d) => (d === 'pg-multiverse' ? d : `@pg-multiverse/${d}`)),
    );
  }
  return out;
}

/** pg-multiverse packages a package's source imports (type imports included). */
function importedPackages(dir: string): Set<string> {
  const out = new Set<string>();
  for (const file of sourceFiles(join(dir, 'src'))) {
    if (file.endsWith('.test.ts')) continue;
    const text = readFileSync(file, 'utf8');
    // Import and export statements (at the start of a line) and dynamic `await import(...)`; not text in strings.
    const specifiers = [
      ...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s*'([^']+)'/gms),
      ...text.matchAll(/^\s*import\s*'([^']+)'/gm),
      ...text.matchAll(/await import\(\s*'([^']+)'/g),
    ];
    for (const m of specifiers) {
      const pkg = /^((?:@pg-multiverse\/[^/]+)|pg-multiverse)(\/.*)?$/.exec(m[1]!);
      if (pkg) out.add(pkg[1]!);
    }
  }
  return out;
}

describe('the package graph (every package)', () => {
  it('docs/ARCHITECTURE.md names every workspace package, with the dependencies its package.json declares', () => {
    const ws = workspace();
    const documented = documentedGraph();
    expect([...documented.keys()].sort()).toEqual([...ws.keys()].sort());
    for (const [name, m] of ws) {
      const declared = Object.keys({ ...m.dependencies, ...m.peerDependencies, ...m.optionalDependencies })
        .filter((d) => d.startsWith('@pg-multiverse/') || d === 'pg-multiverse')
        .sort();
      expect(declared, name).toEqual([...(documented.get(name) ?? [])].sort());
    }
  });

  it("every package's source imports only the packages it declares, through their public entries", () => {
    const ws = workspace();
    const documented = documentedGraph();
    for (const dir of readdirSync(packagesDir)) {
      let name: string;
      try {
        name = (JSON.parse(readFileSync(join(packagesDir, dir, 'package.json'), 'utf8')) as Manifest).name;
      } catch {
        continue;
      }
      const allowed = new Set([...(documented.get(name) ?? []), name]);
      const imported = [...importedPackages(join(packagesDir, dir))].filter((p) => !allowed.has(p));
      expect(imported, `${name} imports undeclared packages`).toEqual([]);
      // No reaching into another package's files: only `@pg-multiverse/<name>` or its declared subpaths.
      for (const file of sourceFiles(join(packagesDir, dir, 'src'))) {
        expect(readFileSync(file, 'utf8'), file).not.toMatch(/from '@pg-multiverse\/[^']+\/src\//);
      }
    }
    expect(ws.size).toBeGreaterThan(0);
  });

  it('there are no cycles', () => {
    const documented = documentedGraph();
    const visiting = new Set<string>();
    const done = new Set<string>();
    const visit = (n: string, path: string[]): void => {
      if (done.has(n)) return;
      expect(visiting.has(n), `cycle: ${[...path, n].join(' -> ')}`).toBe(false);
      visiting.add(n);
      for (const d of documented.get(n) ?? []) visit(d, [...path, n]);
      visiting.delete(n);
      done.add(n);
    };
    for (const n of documented.keys()) visit(n, []);
  });
});
