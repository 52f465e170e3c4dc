// Repository shape: a peer dependency shared by several packages has one range across the
// workspace (an application installs one `pg` for all of them), and each package's dev copy
// of it lies inside that range (so the tests run a version the range admits).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Manifest {
  name: string;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

const packagesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function manifests(): Manifest[] {
  return readdirSync(packagesDir, { withFileTypes: true }).flatMap((d) => {
    if (!d.isDirectory()) return [];
    try {
      return [JSON.parse(readFileSync(join(packagesDir, d.name, 'package.json'), 'utf8')) as Manifest];
    } catch {
      return []; // not a package
    }
  });
}

/** `^X.Y.Z` -> [X, Y, Z]; anything else undefined. */
const caret = (range: string) => /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range)?.slice(1).map(Number);

describe('workspace peer dependencies', () => {
  const all = manifests();

  it('finds the packages', () => {
    expect(all.map((m) => m.name)).toEqual(expect.arrayContaining(['@pg-multiverse/core', '@pg-multiverse/cache']));
  });

  it('every peer dependency has the same range in every package that declares it', () => {
    const ranges = new Map<string, Map<string, string[]>>();
    for (const m of all) {
      for (const [dep, range] of Object.entries(m.peerDependencies ?? {})) {
        const byRange = ranges.get(dep) ?? new Map<string, string[]>();
        ranges.set(dep, byRange.set(range, [...(byRange.get(range) ?? []), m.name]));
      }
    }
    const drift = [...ranges]
      .filter(([, byRange]) => byRange.size > 1)
      .map(([dep, byRange]) => [dep, Object.fromEntries(byRange)]);
    expect(drift).toEqual([]);
    expect([...(ranges.get('pg')?.keys() ?? [])]).toEqual(['^8.11.0']);
  });

  it('a package tests against a version its peer range admits (dev range inside the peer range)', () => {
    const outside: string[] = [];
    for (const m of all) {
      for (const [dep, peer] of Object.entries(m.peerDependencies ?? {})) {
        const dev = m.devDependencies?.[dep];
        const p = caret(peer);
        const d = dev === undefined ? undefined : caret(dev);
        if (!p || !d) continue;
        const inside = d[0] === p[0] && (d[1]! > p[1]! || (d[1] === p[1] && d[2]! >= p[2]!));
        if (!inside) outside.push(`${m.name}: ${dep} dev ${dev} vs peer ${peer}`);
      }
    }
    expect(outside).toEqual([]);
  });
});
