// TEMPORARY stand-in for ./referenced-tables.ts (written by another engineer). Delete when it lands.
export interface ReferencedTables {
  read: string[];
  written: string[];
}
export function referencedTables(sql: string): ReferencedTables {
  const read = new Set<string>();
  const written = new Set<string>();
  const re = /\b(from|join|into|update|table)\s+((?:"[^"]+"|[a-z_][a-z0-9_$]*)(?:\.(?:"[^"]+"|[a-z_][a-z0-9_$]*))?)/gi;
  for (const m of sql.matchAll(re)) {
    const kw = m[1]!.toLowerCase();
    const name = m[2]!;
    if (kw === 'into' || kw === 'update' || kw === 'table') written.add(name);
    else read.add(name);
  }
  if (/^\s*delete\s+from\s/i.test(sql)) {
    const m = /^\s*delete\s+from\s+([^\s;]+)/i.exec(sql);
    if (m) {
      written.add(m[1]!);
      read.delete(m[1]!);
    }
  }
  return { read: [...read], written: [...written] };
}
