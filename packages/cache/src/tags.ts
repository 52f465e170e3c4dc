import { analyzeSql } from '@pg-multiverse/core';

/** Input of `tagsFor`. */
export interface TagsInput {
  /** The schema the query runs in (its search_path); unqualified tables belong to it. Default `public`. */
  schema?: string;
  sql: string;
  /** The caller's own tags. */
  tags?: readonly string[];
}

/** Input of `writeTags` / `invalidateWrites`: one statement that changed data. */
export interface WriteInput {
  schema?: string;
  sql: string;
  /** Cluster the write ran on (lets a notify bus pick the cluster's channel). */
  clusterId?: string;
}

const DEFAULT_SCHEMA = 'public';

/** Tables a statement reads and writes: core's one analysis, memoized per text there (frozen, not copied). */
function tablesOf(sql: string): { readonly read: readonly string[]; readonly written: readonly string[] } {
  return analyzeSql(sql);
}

/** `schema:<s>` */
export function schemaTag(schema: string): string {
  return `schema:${normalizeIdent(schema)}`;
}

/** `table:<schema>.<table>`, both parts unquoted and lower-cased (over-matching is safe, under-matching is not). */
export function tableTag(name: string, defaultSchema: string | undefined): string {
  const [s, t] = splitQualified(name);
  return `table:${normalizeIdent(s ?? defaultSchema ?? DEFAULT_SCHEMA)}.${normalizeIdent(t)}`;
}

function normalizeIdent(id: string): string {
  const s = id.length >= 2 && id.startsWith('"') && id.endsWith('"') ? id.slice(1, -1).replace(/""/g, '"') : id;
  return s.toLowerCase();
}

/** Split `a.b`, `"a.b".c`, `"x"` into [schema?, table]. A name with more parts keeps the last two. */
function splitQualified(name: string): [string | undefined, string] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    if (ch === '"') {
      if (quoted && name[i + 1] === '"') {
        cur += '""';
        i++;
        continue;
      }
      quoted = !quoted;
      cur += ch;
    } else if (ch === '.' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  if (parts.length === 1) return [undefined, parts[0]!];
  return [parts[parts.length - 2], parts[parts.length - 1]!];
}

function schemaOfTableTag(tag: string): string {
  return tag.slice('table:'.length, tag.lastIndexOf('.'));
}

/**
 * Tags of a cached read: the caller's tags, `schema:<schema>`, and for every
 * table the SQL touches `table:<schema>.<table>` plus that table's
 * `schema:<schema>` (so `invalidate({ schema })` also drops cross-schema reads).
 */
export function tagsFor(input: TagsInput): string[] {
  const memoKey = `${input.schema ?? ''}\u0000${input.sql}`;
  const auto = autoMemo.get(memoKey) ?? computeAutoTags(memoKey, input.schema, input.sql);
  if (!input.tags || input.tags.length === 0) return [...auto];
  return [...new Set([...input.tags, ...auto])];
}

/** Entries of the memo of computed tags per (schema, SQL text). */
const MEMO_MAX = 2000;
const autoMemo = new Map<string, readonly string[]>();
function computeAutoTags(memoKey: string, schema: string | undefined, sql: string): readonly string[] {
  const out = new Set<string>();
  out.add(schemaTag(schema ?? DEFAULT_SCHEMA));
  const { read, written } = tablesOf(sql);
  for (const name of [...read, ...written]) {
    const t = tableTag(name, schema);
    out.add(t);
    out.add(`schema:${schemaOfTableTag(t)}`);
  }
  const tags = [...out];
  if (autoMemo.size >= MEMO_MAX) autoMemo.clear();
  autoMemo.set(memoKey, tags);
  return tags;
}

/**
 * Tags a committed write invalidates: `table:<schema>.<table>` of every table
 * it writes. When the SQL names no written table (a function call, `CALL`,
 * `DO`, ...) the whole schema is invalidated instead: when unsure, invalidate more.
 */
export function writeTags(input: WriteInput, mode: 'tables' | 'schema' = 'tables'): string[] {
  const own = schemaTag(input.schema ?? DEFAULT_SCHEMA);
  const { written } = tablesOf(input.sql);
  if (written.length === 0) return [own];
  if (mode === 'schema') {
    return [...new Set([own, ...written.map((n) => `schema:${schemaOfTableTag(tableTag(n, input.schema))}`)])];
  }
  return [...new Set(written.map((n) => tableTag(n, input.schema)))];
}
