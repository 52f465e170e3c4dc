import { parseExplain } from './explain.js';
import { BoundedMemo } from './memo.js';
import { splitStatements } from './split-statements.js';
import { FROM_LIST_END, isName, isPunct, isWord, quotePart, readName, skipGroup, statementStart } from './syntax.js';
import type { SqlToken } from './tokenize.js';
import { assignedColumns } from './update-targets.js';
import { parseWithClause } from './with-clause.js';

/**
 * One value the shard key is compared with in the SQL text: a positional
 * parameter (`$2`, `param` is 2; `array` for `= ANY($2)`), a constant (the
 * string's decoded content or the number's text), or NULL.
 */
export type ShardKeyValue =
  | { readonly param: number; readonly array?: true }
  | { readonly literal: string }
  | { readonly null: true };

/** One row of `INSERT ... VALUES`: its text offsets (the parenthesised tuple) and its shard-key value. */
export interface InsertRowKey {
  /** Offsets of the row's `( ... )` in the SQL text (`sql.slice(start, end)`). */
  readonly start: number;
  readonly end: number;
  /** The key's value in this row; undefined when it is an expression (or DEFAULT) the library cannot evaluate. */
  readonly key: ShardKeyValue | undefined;
}

/** `INSERT INTO t (cols) VALUES (...), (...)`: what splitting the statement by shard needs. */
export interface InsertValues {
  /** Target table as written (`t`, `s.t`, quote_ident style). */
  readonly table: string;
  /** The column list (names as PostgreSQL folds them); empty when the statement has none. */
  readonly columns: readonly string[];
  /** Index of the key column in `columns`; -1 when absent (or no column list). */
  readonly keyColumn: number;
  /** Each row tuple, in order. */
  readonly rows: readonly InsertRowKey[];
  /** Offsets of the whole VALUES list (from the first row's `(` to the last row's `)`). */
  readonly valuesStart: number;
  readonly valuesEnd: number;
}

/** Where a statement's shard key is, found in its SQL text (see `analyzeShardKey`). */
export interface ShardKeyAnalysis {
  /**
   * The key values every row the statement reads or writes is confined to:
   * running it only on the shards holding these values gives the same result
   * as running it on all the data. `undefined`: not determined (every shard).
   */
  readonly values: readonly ShardKeyValue[] | undefined;
  /** Why (for logs and errors), e.g. `orders.user_id = $1`, `no condition on user_id for orders`. */
  readonly reason: string;
  /** Number of table references in the whole statement (subqueries and CTEs included). */
  readonly relations: number;
  /**
   * Every table reference is in the main query (no subquery, CTE or set
   * operation) and they are joined on the key (`a.user_id = b.user_id`), so
   * each shard can run the statement on its own rows and the results add up.
   */
  readonly colocated: boolean;
  /** The text assigns the key (`UPDATE ... SET key =`, `ON CONFLICT ... DO UPDATE SET key =`, `MERGE`): a change of shard. */
  readonly updatesKey: boolean;
  /** `INSERT ... VALUES` (one statement, with a column list or not). */
  readonly insert?: InsertValues;
}

const CLAUSE_END = new Set<string>([
  ...FROM_LIST_END,
  'on',
  'using',
  'join',
  'inner',
  'left',
  'right',
  'full',
  'cross',
  'natural',
  'set',
]);

interface Relation {
  /** Names it is referenced by (alias, else table name; lower case as folded). */
  names: string[];
  kind: 'table' | 'derived' | 'neutral' | 'opaque';
  /** Values it is confined to (the smallest set found). */
  pinned?: ShardKeyValue[];
  /** derived/cte: the scope producing it. */
  inner?: Scope;
  /** Display for reasons. */
  label: string;
}

interface Scope {
  parent: Scope | undefined;
  relations: Relation[];
  ctes: Map<string, Scope | null>;
  /** Everything nested (subqueries anywhere, CTE bodies) that must be confined too. */
  children: Scope[];
  /** Pins and links gathered from conditions. */
  facts: Array<{ rel: Relation; values: ShardKeyValue[] }>;
  links: Array<{ from: Relation; to: Relation; both: boolean }>;
  /** Not analysable (recursive CTE, set operation branch we could not parse...). */
  opaque?: string;
  /** A set operation: the branches are the children. */
  setOp?: boolean;
}

const newScope = (parent: Scope | undefined): Scope => ({
  parent,
  relations: [],
  ctes: new Map(),
  children: [],
  facts: [],
  links: [],
});

/** Index of the end (exclusive) of the range starting at `i` up to `end`, stopping at a word of `stop` at depth 0. */
function until(tokens: readonly SqlToken[], i: number, end: number, stop: ReadonlySet<string>): number {
  let j = i;
  while (j < end) {
    const t = tokens[j]!;
    if (isPunct(t, '(') || isPunct(t, '[')) {
      j = skipGroup(tokens, j);
      continue;
    }
    if (isPunct(t, ')') || isPunct(t, ';')) return j;
    if (t.type === 'word' && stop.has(t.value) && !isPunct(tokens[j - 1], '.')) {
      // GROUP / ORDER start a clause only with BY (not `WITHIN GROUP (...)`)
      if (!((t.value === 'group' || t.value === 'order') && !isWord(tokens[j + 1], 'by'))) return j;
    }
    j++;
  }
  return end;
}

/** Splits [i, end) at depth 0 on `sep` (a word like `and`/`or`, or `,`); CASE ... END and BETWEEN x AND y stay whole. */
function splitTop(tokens: readonly SqlToken[], i: number, end: number, sep: string): Array<[number, number]> {
  const parts: Array<[number, number]> = [];
  let start = i;
  let cases = 0;
  let between = false;
  for (let j = i; j < end; j++) {
    const t = tokens[j]!;
    if (isPunct(t, '(') || isPunct(t, '[')) {
      j = skipGroup(tokens, j) - 1;
      continue;
    }
    if (t.type === 'word') {
      if (t.value === 'case') cases++;
      else if (t.value === 'end' && cases > 0) cases--;
      else if (t.value === 'between') between = true;
    }
    if (cases > 0) continue;
    const hit = sep === ',' ? isPunct(t, ',') : isWord(t, sep) && !isPunct(tokens[j - 1], '.');
    if (!hit) continue;
    if (sep === 'and' && between) {
      between = false;
      continue;
    }
    parts.push([start, j]);
    start = j + 1;
  }
  parts.push([start, end]);
  return parts;
}

/** Strips `(` ... `)` around a whole range. */
function unwrap(tokens: readonly SqlToken[], i: number, end: number): [number, number] {
  while (isPunct(tokens[i], '(') && skipGroup(tokens, i) === end && end - i >= 2) {
    i++;
    end--;
  }
  return [i, end];
}

/** A constant or parameter (with an optional `::type` cast) spanning exactly [i, end). */
function valueAt(tokens: readonly SqlToken[], i: number, end: number): ShardKeyValue | undefined {
  [i, end] = unwrap(tokens, i, end);
  // trailing casts: `$1::int8`, `'x'::uuid`, `$1::character varying`
  let stop = end;
  for (let j = i + 1; j < end; j++) {
    if (isPunct(tokens[j], '::')) {
      stop = j;
      break;
    }
  }
  if (stop !== end) {
    for (let j = stop; j < end; j++) {
      const t = tokens[j]!;
      if (
        !(isPunct(t, '::') || isName(t) || isPunct(t, '.') || isPunct(t, '(') || isPunct(t, ')') || t.type === 'number')
      )
        return undefined;
    }
  }
  // `CAST(x AS type)`
  if (isWord(tokens[i], 'cast') && isPunct(tokens[i + 1], '(') && skipGroup(tokens, i + 1) === end) {
    const close = end - 1;
    const as = until(tokens, i + 2, close, new Set(['as']));
    if (as >= close) return undefined;
    return valueAt(tokens, i + 2, as);
  }
  const n = stop - i;
  const t = tokens[i]!;
  if (n === 1) {
    if (t.type === 'param') return { param: Number(t.value.slice(1)) };
    if (t.type === 'string' && (t.stringKind === 'standard' || t.stringKind === 'escape' || t.stringKind === 'dollar'))
      return { literal: t.value };
    if (t.type === 'number') return { literal: t.value };
    if (isWord(t, 'null')) return { null: true };
  }
  if (n === 2 && t.type === 'operator' && (t.value === '-' || t.value === '+') && tokens[i + 1]!.type === 'number')
    return { literal: t.value === '-' ? `-${tokens[i + 1]!.value}` : tokens[i + 1]!.value };
  // typed literal: `uuid '...'`, `bigint '5'`, `text '...'`
  if (n === 2 && isWord(t) && tokens[i + 1]!.type === 'string') return valueAt(tokens, i + 1, i + 2);
  return undefined;
}

/** A reference to the key column spanning exactly [i, end): `key`, `q.key`, `s.q.key`; its qualifier (undefined when bare). */
function keyRefAt(
  tokens: readonly SqlToken[],
  i: number,
  end: number,
  key: string,
): { qualifier: string | undefined } | undefined {
  [i, end] = unwrap(tokens, i, end);
  const last = tokens[end - 1];
  if (!isName(last) || last!.value !== key) return undefined;
  if (end - i === 1) return { qualifier: undefined };
  if (end - i >= 3 && isPunct(tokens[end - 2], '.') && isName(tokens[end - 3])) {
    // a.b.key / a.key: the qualifier is the part just before the column
    for (let j = i; j < end - 1; j++) {
      if ((j - i) % 2 === 0 ? !isName(tokens[j]) : !isPunct(tokens[j], '.')) return undefined;
    }
    return { qualifier: tokens[end - 3]!.value };
  }
  return undefined;
}

interface Parser {
  tokens: readonly SqlToken[];
  key: string;
}

/** Finds the relation a qualifier (or a bare key reference) names, from `scope` outwards. */
function resolve(scope: Scope, qualifier: string | undefined): Relation | undefined {
  for (let s: Scope | undefined = scope; s; s = s.parent) {
    if (qualifier === undefined) {
      // A bare key column belongs to the only relation of the innermost scope that has relations.
      const tables = s.relations.filter((r) => r.kind !== 'neutral');
      if (tables.length === 1) return tables[0];
      if (tables.length > 1) return undefined;
      continue;
    }
    const hit = s.relations.find((r) => r.names.includes(qualifier));
    if (hit) return hit;
  }
  return undefined;
}

/**
 * Facts of one condition (WHERE or an ON clause) of `scope`. `pinnable`, when given, limits which
 * relations a fact may confine (the nullable side of an outer join).
 */
function conditionFacts(p: Parser, scope: Scope, i: number, end: number, pinnable?: ReadonlySet<Relation>): void {
  const { tokens } = p;
  scanSubqueries(p, scope, i, end);
  for (const [a, b] of splitTop(tokens, i, end, 'and')) {
    const [s, e] = unwrap(tokens, a, b);
    const ors = splitTop(tokens, s, e, 'or');
    if (ors.length > 1) {
      // key = 1 OR key = 2 (same relation): the union
      let rel: Relation | undefined;
      const values: ShardKeyValue[] = [];
      let ok = true;
      for (const [x, y] of ors) {
        const f = simpleFact(p, scope, x, y);
        if (!f || !('values' in f) || (rel && rel !== f.rel)) {
          ok = false;
          break;
        }
        rel = f.rel;
        values.push(...f.values);
      }
      if (ok && rel && (!pinnable || pinnable.has(rel))) scope.facts.push({ rel, values });
      continue;
    }
    if (splitTop(tokens, s, e, 'and').length > 1) {
      conditionFactsNoScan(p, scope, s, e, pinnable);
      continue;
    }
    const f = simpleFact(p, scope, s, e);
    if (!f) continue;
    if ('values' in f) {
      if (!pinnable || pinnable.has(f.rel)) scope.facts.push(f);
    } else {
      const aOk = !pinnable || pinnable.has(f.a);
      const bOk = !pinnable || pinnable.has(f.b);
      if (aOk && bOk) scope.links.push({ from: f.a, to: f.b, both: true });
      else if (bOk) scope.links.push({ from: f.a, to: f.b, both: false });
      else if (aOk) scope.links.push({ from: f.b, to: f.a, both: false });
    }
  }
}

function conditionFactsNoScan(p: Parser, scope: Scope, i: number, end: number, pinnable?: ReadonlySet<Relation>) {
  const saved = scope.children.length;
  conditionFacts(p, scope, i, end, pinnable);
  scope.children.length = saved; // already scanned by the caller
}

/** `ref = value`, `value = ref`, `ref IN (v, ...)`, `ref = ANY($n)`, `ref IS NULL`, `ref = ref`. */
function simpleFact(
  p: Parser,
  scope: Scope,
  i: number,
  end: number,
): { rel: Relation; values: ShardKeyValue[] } | { a: Relation; b: Relation } | undefined {
  const { tokens, key } = p;
  [i, end] = unwrap(tokens, i, end);
  // find a top-level `=` / IN / IS
  let op = -1;
  for (let j = i; j < end; j++) {
    const t = tokens[j]!;
    if (isPunct(t, '(') || isPunct(t, '[')) {
      j = skipGroup(tokens, j) - 1;
      continue;
    }
    if ((t.type === 'operator' && t.value === '=') || isWord(t, 'in', 'is')) {
      op = j;
      break;
    }
  }
  if (op < 0) return undefined;
  const opTok = tokens[op]!;
  const left = keyRefAt(tokens, i, op, key);
  if (isWord(opTok, 'is')) {
    if (left && isWord(tokens[op + 1], 'null') && op + 2 === end) {
      const rel = resolve(scope, left.qualifier);
      return rel ? { rel, values: [{ null: true }] } : undefined;
    }
    return undefined;
  }
  if (isWord(opTok, 'in')) {
    if (!left || !isPunct(tokens[op + 1], '(') || skipGroup(tokens, op + 1) !== end) return undefined;
    const values: ShardKeyValue[] = [];
    for (const [a, b] of splitTop(tokens, op + 2, end - 1, ',')) {
      const v = valueAt(tokens, a, b);
      if (!v) return undefined;
      values.push(v);
    }
    const rel = resolve(scope, left.qualifier);
    return rel && values.length > 0 ? { rel, values } : undefined;
  }
  // `=`
  const right = keyRefAt(tokens, op + 1, end, key);
  if (left && right) {
    const a = resolve(scope, left.qualifier);
    const b = resolve(scope, right.qualifier);
    return a && b && a !== b ? { a, b } : undefined;
  }
  const ref = left ?? right;
  if (!ref) return undefined;
  const [vs, ve] = left ? [op + 1, end] : [i, op];
  let v = valueAt(tokens, vs, ve);
  if (!v && left && isWord(tokens[vs], 'any') && isPunct(tokens[vs + 1], '(') && skipGroup(tokens, vs + 1) === ve) {
    const inner = valueAt(tokens, vs + 2, ve - 1);
    if (inner && 'param' in inner) v = { param: inner.param, array: true };
  }
  if (!v) return undefined;
  const rel = resolve(scope, ref.qualifier);
  return rel ? { rel, values: [v] } : undefined;
}

/** Every `(SELECT ...)` / `(WITH ...)` / `(VALUES ...)` inside [i, end) becomes a child scope of `scope`. */
function scanSubqueries(p: Parser, scope: Scope, i: number, end: number): void {
  const { tokens } = p;
  for (let j = i; j < end; j++) {
    if (!isPunct(tokens[j], '(')) continue;
    const close = skipGroup(tokens, j);
    if (isWord(tokens[j + 1], 'select', 'with', 'values', 'table')) {
      const child = newScope(scope);
      parseQuery(p, child, j + 1, close - 1);
      scope.children.push(child);
      j = close - 1;
    }
  }
}

/** Parses a query expression (SELECT/VALUES/TABLE/WITH ..., set operations included) over [i, end) into `scope`. */
function parseQuery(p: Parser, scope: Scope, i: number, end: number): void {
  const { tokens } = p;
  [i, end] = unwrap(tokens, i, end);
  if (isWord(tokens[i], 'with')) {
    i = parseCtes(p, scope, i, end);
    if (i < 0) return;
  }
  // set operations: each branch its own child scope, the parent holds only them
  const branches = splitSetOps(tokens, i, end);
  if (branches.length > 1) {
    for (const [a, b] of branches) {
      const child = newScope(scope);
      child.ctes = scope.ctes;
      parseQuery(p, child, a, b);
      scope.children.push(child);
    }
    scope.setOp = true;
    return;
  }
  const first = tokens[i];
  if (isWord(first, 'values')) {
    scanSubqueries(p, scope, i, end);
    return;
  }
  if (isWord(first, 'table')) {
    const n = readName(tokens, i + 1);
    if (n) addTable(scope, n.parts, undefined);
    return;
  }
  if (!isWord(first, 'select')) {
    scope.opaque = `unrecognized query ${first ? first.text : ''}`;
    return;
  }
  parseSelect(p, scope, i, end);
}

function splitSetOps(tokens: readonly SqlToken[], i: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = i;
  for (let j = i; j < end; j++) {
    const t = tokens[j]!;
    if (isPunct(t, '(') || isPunct(t, '[')) {
      j = skipGroup(tokens, j) - 1;
      continue;
    }
    if (isWord(t, 'union', 'intersect', 'except')) {
      out.push([start, j]);
      let k = j + 1;
      if (isWord(tokens[k], 'all', 'distinct')) k++;
      start = k;
      j = k - 1;
    }
  }
  out.push([start, end]);
  // a trailing ORDER BY / LIMIT after the last branch applies to the whole: harmless to the key analysis
  return out;
}

/** `WITH [RECURSIVE] a AS (...), ...`: the CTE bodies become children; returns the main statement's index, -1 if malformed. */
function parseCtes(p: Parser, scope: Scope, i: number, end: number): number {
  const { tokens } = p;
  const w = parseWithClause(tokens, i);
  if (w.main < 0 || w.main >= end) {
    scope.opaque = 'malformed WITH';
    return -1;
  }
  const recursive = isWord(tokens[i + 1], 'recursive');
  // bodies: walk again to find each `AS (`
  let j = i + 1 + (recursive ? 1 : 0);
  for (const name of w.names) {
    while (
      j < w.main &&
      !(isWord(tokens[j], 'as') && (isPunct(tokens[j + 1], '(') || isWord(tokens[j + 1], 'not', 'materialized')))
    )
      j = isPunct(tokens[j], '(') ? skipGroup(tokens, j) : j + 1;
    j++;
    while (isWord(tokens[j], 'not', 'materialized')) j++;
    const close = skipGroup(tokens, j);
    const body = newScope(scope);
    body.ctes = new Map(scope.ctes);
    if (recursive) body.opaque = `recursive CTE ${name}`;
    else {
      const verb = tokens[j + 1];
      if (isWord(verb, 'select', 'with', 'values', 'table')) parseQuery(p, body, j + 1, close - 1);
      else parseStatementBody(p, body, j + 1, close - 1);
    }
    scope.children.push(body);
    scope.ctes.set(name, body);
    j = close;
  }
  return w.main;
}

function addTable(scope: Scope, parts: string[], alias: string | undefined): Relation {
  const label = parts.slice(-2).map(quotePart).join('.');
  const cte = parts.length === 1 ? lookupCte(scope, parts[0]!) : undefined;
  const rel: Relation =
    cte !== undefined
      ? { names: [alias ?? parts[0]!], kind: 'derived', label, ...(cte ? { inner: cte } : {}) }
      : { names: alias ? [alias] : [parts[parts.length - 1]!], kind: 'table', label };
  if (cte === null) rel.kind = 'opaque';
  scope.relations.push(rel);
  return rel;
}

function lookupCte(scope: Scope, name: string): Scope | null | undefined {
  for (let s: Scope | undefined = scope; s; s = s.parent) if (s.ctes.has(name)) return s.ctes.get(name)!;
  return undefined;
}

const ALIAS_STOP = new Set([
  ...CLAUSE_END,
  'tablesample',
  'with',
  'and',
  'or',
  'lateral',
  'as',
  'select',
  'from',
  'values',
  'do',
  'default',
  'overriding',
]);

/** `[AS] alias [(cols)]` at j: the alias and whether it renames columns, and the index after it. */
function aliasAt(tokens: readonly SqlToken[], j: number): { alias?: string; renames: boolean; next: number } {
  let k = j;
  if (isWord(tokens[k], 'as')) k++;
  const t = tokens[k];
  if (isName(t) && !(t!.type === 'word' && ALIAS_STOP.has(t!.value))) {
    k++;
    let renames = false;
    if (isPunct(tokens[k], '(')) {
      renames = true;
      k = skipGroup(tokens, k);
    }
    return { alias: t!.value, renames, next: k };
  }
  return { renames: false, next: j };
}

/** One FROM item at j; returns its relations (a parenthesised join may hold several) and the index after. */
function fromItem(p: Parser, scope: Scope, j: number): { rels: Relation[]; next: number } {
  const { tokens } = p;
  if (isWord(tokens[j], 'lateral')) {
    j++;
    if (isPunct(tokens[j], '(') && isWord(tokens[j + 1], 'select', 'with', 'values')) {
      const close = skipGroup(tokens, j);
      const inner = newScope(scope);
      // LATERAL sees the relations before it: they are in `scope` already
      parseQuery(p, inner, j + 1, close - 1);
      scope.children.push(inner);
      const a = aliasAt(tokens, close);
      const rel: Relation = { names: a.alias ? [a.alias] : [], kind: 'derived', inner, label: 'LATERAL subquery' };
      scope.relations.push(rel);
      return { rels: [rel], next: a.next };
    }
  }
  if (isWord(tokens[j], 'only')) j++;
  if (isPunct(tokens[j], '(')) {
    const close = skipGroup(tokens, j);
    if (isWord(tokens[j + 1], 'select', 'with', 'values', 'table')) {
      const inner = newScope(scope);
      parseQuery(p, inner, j + 1, close - 1);
      scope.children.push(inner);
      const a = aliasAt(tokens, close);
      const rel: Relation = {
        names: a.alias ? [a.alias] : [],
        kind:
          isWord(tokens[j + 1], 'values') && inner.relations.length === 0 && inner.children.length === 0
            ? 'neutral'
            : 'derived',
        inner,
        label: 'subquery',
      };
      scope.relations.push(rel);
      return { rels: [rel], next: a.next };
    }
    // parenthesised join
    const rels = fromList(p, scope, j + 1, close - 1);
    const a = aliasAt(tokens, close);
    if (a.alias) {
      // `(a JOIN b) AS j`: the inner names are hidden; reachable as j only
      for (const r of rels) r.names = [a.alias];
    }
    return { rels, next: a.next };
  }
  const n = readName(tokens, j);
  if (!n) {
    const rel: Relation = { names: [], kind: 'opaque', label: tokens[j]?.text ?? 'FROM item' };
    scope.relations.push(rel);
    return { rels: [rel], next: j + 1 };
  }
  let k = n.next;
  if (isPunct(tokens[k], '(')) {
    // a function in FROM (generate_series, unnest, ...): computed alike on every shard
    scanSubqueries(p, scope, k, skipGroup(tokens, k));
    k = skipGroup(tokens, k);
    if (isWord(tokens[k], 'with') && isWord(tokens[k + 1], 'ordinality')) k += 2;
    const a = aliasAt(tokens, k);
    const rel: Relation = {
      names: a.alias ? [a.alias] : [n.parts.at(-1)!],
      kind: 'neutral',
      label: `${n.parts.join('.')}()`,
    };
    scope.relations.push(rel);
    return { rels: [rel], next: a.next };
  }
  if (isPunct(tokens[k], '*')) k++;
  const a = aliasAt(tokens, k);
  let next = a.next;
  if (isWord(tokens[next], 'tablesample')) {
    next += 2;
    if (isPunct(tokens[next], '(')) next = skipGroup(tokens, next);
    if (isWord(tokens[next], 'repeatable')) next = skipGroup(tokens, next + 1);
  }
  const rel = addTable(scope, n.parts, a.alias);
  if (a.renames && rel.kind === 'table') rel.kind = 'opaque'; // the key column may be renamed
  return { rels: [rel], next };
}

/** A FROM list over [i, end) with its joins; ON conditions become facts. Returns the relations. */
function fromList(p: Parser, scope: Scope, i: number, end: number): Relation[] {
  const { tokens } = p;
  const all: Relation[] = [];
  let j = i;
  let left: Relation[] = [];
  while (j < end) {
    const item = fromItem(p, scope, j);
    left = [...item.rels];
    all.push(...item.rels);
    j = item.next;
    // joins
    for (;;) {
      let k = j;
      let kind: 'inner' | 'left' | 'right' | 'full' | 'cross' = 'inner';
      let natural = false;
      if (isWord(tokens[k], 'natural')) {
        natural = true;
        k++;
      }
      if (isWord(tokens[k], 'inner')) k++;
      else if (isWord(tokens[k], 'left', 'right', 'full')) {
        kind = tokens[k]!.value as 'left' | 'right' | 'full';
        k++;
        if (isWord(tokens[k], 'outer')) k++;
      } else if (isWord(tokens[k], 'cross')) {
        kind = 'cross';
        k++;
      }
      if (!isWord(tokens[k], 'join')) break;
      const right = fromItem(p, scope, k + 1);
      all.push(...right.rels);
      j = right.next;
      if (natural) {
        // a natural join on the key links the two sides; we cannot see the columns: no fact
      }
      if (isWord(tokens[j], 'on')) {
        const condEnd = until(tokens, j + 1, end, CLAUSE_END);
        const pinnable =
          kind === 'inner' || kind === 'cross'
            ? undefined
            : new Set(kind === 'left' ? right.rels : kind === 'right' ? left : []);
        conditionFacts(p, scope, j + 1, condEnd, pinnable);
        j = condEnd;
      } else if (isWord(tokens[j], 'using') && isPunct(tokens[j + 1], '(')) {
        const close = skipGroup(tokens, j + 1);
        const cols = splitTop(tokens, j + 2, close - 1, ',');
        const usesKey = cols.some(([a, b]) => b - a === 1 && isName(tokens[a]) && tokens[a]!.value === p.key);
        if (usesKey && left.length === 1 && right.rels.length === 1) {
          const [a, b] = [left[0]!, right.rels[0]!];
          if (kind === 'inner') scope.links.push({ from: a, to: b, both: true });
          else if (kind === 'left') scope.links.push({ from: a, to: b, both: false });
          else if (kind === 'right') scope.links.push({ from: b, to: a, both: false });
        }
        j = close;
      }
      left = [...left, ...right.rels];
    }
    if (isPunct(tokens[j], ',')) {
      j++;
      continue;
    }
    break;
  }
  return all;
}

const FROM_STOP = new Set<string>([...FROM_LIST_END, 'into']);

/** SELECT over [i, end) (no set operation at this level). */
function parseSelect(p: Parser, scope: Scope, i: number, end: number): void {
  const { tokens } = p;
  const from = until(tokens, i + 1, end, new Set(['from', 'where', 'group', 'having', 'order', 'limit', 'window']));
  const hasFrom = isWord(tokens[from], 'from');
  let j = from;
  if (hasFrom) {
    const fromEnd = until(tokens, from + 1, end, FROM_STOP);
    fromList(p, scope, from + 1, fromEnd);
    j = fromEnd;
  }
  // the select list may hold subqueries (after the FROM is known: they may correlate)
  scanSubqueries(p, scope, i + 1, from);
  restOfQuery(p, scope, j, end);
}

/** WHERE ... and everything after it, in a SELECT/UPDATE/DELETE scope. */
function restOfQuery(p: Parser, scope: Scope, j: number, end: number): void {
  const { tokens } = p;
  if (isWord(tokens[j], 'where')) {
    const whereEnd = until(tokens, j + 1, end, FROM_STOP);
    if (!(isWord(tokens[j + 1], 'current') && isWord(tokens[j + 2], 'of'))) conditionFacts(p, scope, j + 1, whereEnd);
    j = whereEnd;
  }
  scanSubqueries(p, scope, j, end);
}

/** UPDATE / DELETE / INSERT / SELECT / VALUES at [i, end) into `scope`. */
function parseStatementBody(p: Parser, scope: Scope, i: number, end: number): InsertValues | undefined {
  const { tokens } = p;
  [i, end] = unwrap(tokens, i, end);
  if (isWord(tokens[i], 'with')) {
    i = parseCtes(p, scope, i, end);
    if (i < 0) return undefined;
  }
  const verb = tokens[i];
  if (isWord(verb, 'select', 'values', 'table')) {
    parseQuery(p, scope, i, end);
    return undefined;
  }
  if (isWord(verb, 'update')) {
    let j = i + 1;
    if (isWord(tokens[j], 'only')) j++;
    const n = readName(tokens, j);
    if (!n) {
      scope.opaque = 'UPDATE target';
      return undefined;
    }
    let k = n.next;
    if (isPunct(tokens[k], '*')) k++;
    const a = aliasAt(tokens, k);
    addTable(scope, n.parts, a.alias);
    k = a.next;
    if (!isWord(tokens[k], 'set')) {
      scope.opaque = 'UPDATE without SET';
      return undefined;
    }
    const setEnd = until(tokens, k + 1, end, new Set(['from', 'where', 'returning']));
    // SET of the key: `assignedColumns` (one detector for UPDATE, ON CONFLICT and MERGE; see analyze()).
    scanSubqueries(p, scope, k + 1, setEnd);
    let j2 = setEnd;
    if (isWord(tokens[j2], 'from')) {
      const fromEnd = until(tokens, j2 + 1, end, FROM_STOP);
      fromList(p, scope, j2 + 1, fromEnd);
      j2 = fromEnd;
    }
    restOfQuery(p, scope, j2, end);
    return undefined;
  }
  if (isWord(verb, 'delete') && isWord(tokens[i + 1], 'from')) {
    let j = i + 2;
    if (isWord(tokens[j], 'only')) j++;
    const n = readName(tokens, j);
    if (!n) {
      scope.opaque = 'DELETE target';
      return undefined;
    }
    let k = n.next;
    if (isPunct(tokens[k], '*')) k++;
    const a = aliasAt(tokens, k);
    addTable(scope, n.parts, a.alias);
    k = a.next;
    if (isWord(tokens[k], 'using')) {
      const usingEnd = until(tokens, k + 1, end, FROM_STOP);
      fromList(p, scope, k + 1, usingEnd);
      k = usingEnd;
    }
    restOfQuery(p, scope, k, end);
    return undefined;
  }
  if (isWord(verb, 'insert') && isWord(tokens[i + 1], 'into')) return parseInsert(p, scope, i + 2, end);
  scope.opaque = `${verb ? verb.text.toUpperCase() : 'empty'} statement`;
  return undefined;
}

function parseInsert(p: Parser, scope: Scope, j: number, end: number): InsertValues | undefined {
  const { tokens, key } = p;
  const n = readName(tokens, j);
  if (!n) {
    scope.opaque = 'INSERT target';
    return undefined;
  }
  const target = addTable(scope, n.parts, undefined);
  let k = n.next;
  if (isWord(tokens[k], 'as') && isName(tokens[k + 1])) {
    target.names.push(tokens[k + 1]!.value);
    k += 2;
  }
  const columns: string[] = [];
  if (isPunct(tokens[k], '(')) {
    const close = skipGroup(tokens, k);
    for (const [a, b] of splitTop(tokens, k + 1, close - 1, ',')) columns.push(b - a >= 1 ? tokens[a]!.value : '');
    k = close;
  }
  if (isWord(tokens[k], 'overriding')) k += 3;
  if (!isWord(tokens[k], 'values')) {
    // INSERT ... SELECT / DEFAULT VALUES: the rows come from a query; not determined
    scanSubqueries(p, scope, k, end);
    if (isWord(tokens[k], 'select', 'with', 'table')) {
      const qEnd = until(tokens, k, end, new Set(['on', 'returning']));
      const child = newScope(scope);
      parseQuery(p, child, k, qEnd);
      scope.children.push(child);
    }
    return undefined;
  }
  const keyColumn = columns.indexOf(key);
  const rows: InsertRowKey[] = [];
  let r = k + 1;
  const valuesStart = tokens[r]?.start ?? 0;
  let valuesEnd = valuesStart;
  while (isPunct(tokens[r], '(')) {
    const close = skipGroup(tokens, r);
    const cells = splitTop(tokens, r + 1, close - 1, ',');
    const cell = keyColumn >= 0 ? cells[keyColumn] : undefined;
    const value = cell ? valueAt(tokens, cell[0], cell[1]) : undefined;
    rows.push({ start: tokens[r]!.start, end: tokens[close - 1]!.end, key: value });
    valuesEnd = tokens[close - 1]!.end;
    scanSubqueries(p, scope, r + 1, close - 1);
    r = close;
    if (!isPunct(tokens[r], ',')) break;
    r++;
  }
  if (rows.length > 0 && rows.every((x) => x.key !== undefined) && keyColumn >= 0) {
    scope.facts.push({ rel: target, values: rows.map((x) => x.key!) });
  }
  scanSubqueries(p, scope, r, end); // ON CONFLICT ... WHERE, RETURNING
  return {
    table: target.label,
    columns,
    keyColumn,
    rows,
    valuesStart,
    valuesEnd,
  };
}

/** Confinement of the whole tree: pins propagate along links until nothing changes. */
function settle(root: Scope): { values?: ShardKeyValue[]; reason: string; relations: number; colocated: boolean } {
  const scopes: Scope[] = [];
  const walk = (s: Scope) => {
    scopes.push(s);
    for (const c of s.children) walk(c);
  };
  walk(root);
  const rels = scopes.flatMap((s) => s.relations);
  for (const s of scopes) for (const f of s.facts) pin(f.rel, f.values);
  let changed = true;
  for (let round = 0; changed && round < 50; round++) {
    changed = false;
    for (const s of scopes) {
      for (const l of s.links) {
        if (l.from.pinned && pin(l.to, l.from.pinned)) changed = true;
        if (l.both && l.to.pinned && pin(l.from, l.to.pinned)) changed = true;
      }
      // a derived relation is pinned by its scope's confinement
      for (const r of s.relations) {
        if (r.kind === 'derived' && r.inner && !r.pinned) {
          const v = confined(r.inner);
          if (v && pin(r, v)) changed = true;
        }
      }
    }
  }
  const tables = rels.filter((r) => r.kind === 'table').length;
  const colocated =
    root.children.length === 0 && !root.setOp && root.relations.every((r) => r.kind === 'table') && connected(root);
  const opaque = scopes.find((s) => s.opaque);
  if (opaque) return { reason: opaque.opaque!, relations: tables, colocated: false };
  const values: ShardKeyValue[] = [];
  for (const r of rels) {
    if (r.kind === 'neutral') continue;
    if (!r.pinned) return { reason: `no condition on the key for ${r.label}`, relations: tables, colocated };
    if (r.kind === 'table') values.push(...r.pinned);
  }
  if (tables === 0 && rels.every((r) => r.kind === 'neutral'))
    return { values: [], reason: 'reads no table', relations: 0, colocated };
  return { values: dedupe(values), reason: 'key condition', relations: tables, colocated };
}

function pin(r: Relation, values: ShardKeyValue[]): boolean {
  if (r.kind === 'neutral' || r.kind === 'opaque') return false;
  if (r.pinned && r.pinned.length <= values.length) return false;
  r.pinned = values;
  return true;
}

/** The values a scope's rows are confined to (every relation pinned, every child confined), else undefined. */
function confined(s: Scope): ShardKeyValue[] | undefined {
  if (s.opaque) return undefined;
  const out: ShardKeyValue[] = [];
  for (const r of s.relations) {
    if (r.kind === 'neutral') continue;
    if (!r.pinned) return undefined;
    out.push(...r.pinned);
  }
  for (const c of s.children) {
    const v = confined(c);
    if (!v) return undefined;
    out.push(...v);
  }
  return out;
}

/** The relations of a scope form one group through key equalities. */
function connected(s: Scope): boolean {
  const rs = s.relations;
  if (rs.length <= 1) return true;
  const seen = new Set<Relation>([rs[0]!]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const l of s.links) {
      if (seen.has(l.from) !== seen.has(l.to)) {
        seen.add(l.from);
        seen.add(l.to);
        grew = true;
      }
    }
  }
  return rs.every((r) => seen.has(r));
}

function dedupe(values: ShardKeyValue[]): ShardKeyValue[] {
  const seen = new Set<string>();
  return values.filter((v) => {
    const k = JSON.stringify(v);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function describe(values: readonly ShardKeyValue[], key: string): string {
  const shown = values
    .slice(0, 5)
    .map((v) => ('param' in v ? `$${v.param}` : 'null' in v ? 'NULL' : JSON.stringify(v.literal)));
  return `${key} in (${shown.join(', ')}${values.length > 5 ? ', ...' : ''})`;
}

function analyze(sql: string, key: string): ShardKeyAnalysis {
  const statements = splitStatements(sql);
  // Any SET of the key (UPDATE, ON CONFLICT DO UPDATE, MERGE), in any statement: one detector (update-targets.ts).
  const updatesKey = assignedColumns(sql).includes(key);
  const none = (reason: string): ShardKeyAnalysis =>
    Object.freeze({ values: undefined, reason, relations: 0, colocated: false, updatesKey });
  if (statements.length !== 1) return none(statements.length === 0 ? 'empty SQL text' : 'several statements');
  let tokens = statements[0]!.tokens;
  let i = statementStart(tokens);
  if (isWord(tokens[i], 'explain')) {
    const { body } = parseExplain(tokens, i + 1);
    tokens = tokens.slice(body);
    i = 0;
  }
  const p: Parser = { tokens, key };
  const root = newScope(undefined);
  const insert = parseStatementBody(p, root, i, tokens.length);
  const s = settle(root);
  return Object.freeze({
    values: s.values ? Object.freeze(s.values) : undefined,
    reason: s.values ? (s.values.length === 0 ? s.reason : describe(s.values, key)) : s.reason,
    relations: s.relations,
    colocated: s.colocated,
    updatesKey,
    ...(insert ? { insert: Object.freeze(insert) } : {}),
  });
}

const memos = new Map<string, BoundedMemo<ShardKeyAnalysis>>();

/**
 * Where the shard key column `key` is in a statement's SQL text (one
 * statement; several are never confined): the key values it is confined to
 * (`WHERE key = $1`, `key IN (...)`, `key = ANY($1)`, `INSERT (..., key, ...)
 * VALUES`, `UPDATE/DELETE ... WHERE key = ...`, behind aliases, in inner-join
 * conditions, subqueries and CTEs, schema-qualified tables), or `values:
 * undefined` when any table reference is not confined (then the statement
 * concerns every shard). Memoized per (key, text); the result is frozen.
 *
 * Rules: a condition confines only as a top-level AND term of a WHERE or of
 * an inner join's ON (an outer join's ON confines only its nullable side);
 * `a.key = b.key` carries a confinement from one table to the other; a bare
 * `key` belongs to the only relation of its scope; a subquery or CTE confines
 * what reads it when all its own tables are confined; a recursive CTE, a
 * function in FROM, or a table alias that renames columns is never confined.
 * Every table of a sharded cluster is assumed to be sharded by `key` (or
 * identical on every shard).
 */
export function analyzeShardKey(sql: string, key: string): ShardKeyAnalysis {
  let memo = memos.get(key);
  if (!memo) {
    if (memos.size >= 64) memos.clear();
    memo = new BoundedMemo<ShardKeyAnalysis>(2000, 4_000_000);
    memos.set(key, memo);
  }
  let a = memo.get(sql);
  if (a === undefined) {
    a = analyze(sql, key);
    memo.set(sql, a, sql.length + 64);
  }
  return a;
}
