import { iterateSqlTokens, type SqlToken, splitStatements } from '@pg-multiverse/core';
import { LRUCache } from 'lru-cache';

/** Where a statement may run: `read` = any node (replicas included), `write` = the primary. */
export type SqlKind = 'read' | 'write';

export interface SqlAnalysis {
  /** `read` only when every statement is proven read-only; anything else is `write`. */
  kind: SqlKind;
  /** Number of non-empty statements in the text. */
  statements: number;
  /** Why, for logs and `route.reason`: e.g. `SELECT`, `locking clause FOR UPDATE`, `statement 2: INSERT`. */
  reason: string;
}

export interface ClassifyOptions {
  /**
   * Extra functions whose call makes a statement a write (added to
   * `DEFAULT_WRITE_FUNCTIONS`). `name` matches calls with any schema, `schema.name`
   * matches `schema.name(...)` and unqualified `name(...)`, a trailing `*`
   * matches a prefix (`audit_*`).
   */
  writeFunctions?: Iterable<string>;
}

export interface SqlClassifierOptions extends ClassifyOptions {
  /** Entries of the per-text LRU cache. Default 2000 (and at most ~8 MB of SQL text). */
  cacheSize?: number;
}

export interface SqlClassifier {
  classify(sql: string): SqlKind;
  analyze(sql: string): SqlAnalysis;
}

/**
 * Functions that make an otherwise read-only statement a write: they change
 * data or sequences, take locks, or create session/transaction state that
 * must live on the primary (or would fail on a standby).
 */
export const DEFAULT_WRITE_FUNCTIONS: readonly string[] = Object.freeze([
  // sequences (currval/lastval read the session's own nextval, so they stay with it)
  'nextval',
  'setval',
  'currval',
  'lastval',
  // advisory locks: pg_advisory_lock[_shared], pg_advisory_xact_lock[_shared], pg_try_advisory_*, pg_advisory_unlock*
  'pg_advisory_*',
  'pg_try_advisory_*',
  // large objects (descriptor-based calls need the same session/transaction)
  'lo_creat',
  'lo_create',
  'lo_open',
  'lo_close',
  'lo_import',
  'lo_export',
  'lo_unlink',
  'lo_write',
  'lowrite',
  'loread',
  'lo_put',
  'lo_from_bytea',
  'lo_truncate',
  'lo_truncate64',
  'lo_lseek',
  'lo_lseek64',
  'lo_tell',
  'lo_tell64',
  // session and transaction state
  'set_config',
  'pg_notify',
  'txid_current',
  'pg_current_xact_id',
  // WAL, backups, replication slots and origins, statistics resets, server files
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_start_backup',
  'pg_stop_backup',
  'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_drop_replication_slot',
  'pg_copy_physical_replication_slot',
  'pg_copy_logical_replication_slot',
  'pg_replication_slot_advance',
  'pg_logical_slot_get_changes',
  'pg_logical_slot_get_binary_changes',
  'pg_logical_emit_message',
  'pg_replication_origin_*',
  'pg_stat_reset*',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_import_system_collations',
  'pg_file_write',
  'pg_file_rename',
  'pg_file_unlink',
  'pg_file_sync',
  // runs arbitrary SQL elsewhere
  'dblink_exec',
]);

/** Statements that create or depend on session state: they go to the primary (the session's node). */
const SESSION_VERBS = new Set([
  'set',
  'reset',
  'begin',
  'start',
  'commit',
  'end',
  'rollback',
  'abort',
  'savepoint',
  'release',
  'prepare',
  'execute',
  'deallocate',
  'listen',
  'unlisten',
  'notify',
  'discard',
  'declare',
  'fetch',
  'move',
  'close',
  'load',
]);

type Verdict = { kind: SqlKind; reason: string };
type FunctionMatcher = (name: string, schema: string | undefined) => string | undefined;

/** A classifier with its own write-function list and cache. */
export function createSqlClassifier(options: SqlClassifierOptions = {}): SqlClassifier {
  const matcher = buildMatcher([...DEFAULT_WRITE_FUNCTIONS, ...(options.writeFunctions ?? [])]);
  const cache = new LRUCache<string, SqlAnalysis>({
    max: Math.max(1, options.cacheSize ?? 2000),
    maxSize: 8_000_000,
    sizeCalculation: (_v, key) => key.length + 64,
  });
  const analyze = (sql: string): SqlAnalysis => {
    if (typeof sql !== 'string') return { kind: 'write', statements: 0, reason: 'not a string' };
    const hit = cache.get(sql);
    if (hit) return hit;
    const result = Object.freeze(analyzeText(sql, matcher));
    cache.set(sql, result);
    return result;
  };
  return { analyze, classify: (sql) => analyze(sql).kind };
}

const defaultClassifier = createSqlClassifier();
const customClassifiers = new Map<string, SqlClassifier>();

function classifierFor(options: ClassifyOptions | undefined): SqlClassifier {
  if (!options?.writeFunctions) return defaultClassifier;
  const list = [...options.writeFunctions].sort();
  if (list.length === 0) return defaultClassifier;
  const key = list.join('\u0000');
  let c = customClassifiers.get(key);
  if (!c) {
    if (customClassifiers.size >= 16) customClassifiers.delete(customClassifiers.keys().next().value!);
    c = createSqlClassifier({ writeFunctions: list, cacheSize: 500 });
    customClassifiers.set(key, c);
  }
  return c;
}

/** `read` if the SQL text is provably read-only (may run on a replica), else `write`. Cached per text. */
export function classifySql(sql: string, options?: ClassifyOptions): SqlKind {
  return classifierFor(options).analyze(sql).kind;
}

/** Like `classifySql`, with the statement count and the reason. */
export function analyzeSql(sql: string, options?: ClassifyOptions): SqlAnalysis {
  return classifierFor(options).analyze(sql);
}

function analyzeText(sql: string, matcher: FunctionMatcher): SqlAnalysis {
  const statements = splitStatements(sql);
  if (sql.includes('/*') && hasUnterminatedComment(sql)) {
    return { kind: 'write', statements: statements.length, reason: 'unterminated comment' };
  }
  if (statements.length === 0) return { kind: 'write', statements: 0, reason: 'empty SQL text' };
  const verdicts = statements.map((s) => analyzeStatement(s.tokens, matcher));
  const bad = verdicts.findIndex((v) => v.kind === 'write');
  if (bad >= 0) {
    const reason = statements.length > 1 ? `statement ${bad + 1}: ${verdicts[bad]!.reason}` : verdicts[bad]!.reason;
    return { kind: 'write', statements: statements.length, reason };
  }
  const reason =
    statements.length > 1 ? `${statements.length} read-only statements` : (verdicts[0]?.reason ?? 'read-only');
  return { kind: 'read', statements: statements.length, reason };
}

function hasUnterminatedComment(sql: string): boolean {
  for (const t of iterateSqlTokens(sql)) if (t.type === 'comment' && t.unterminated) return true;
  return false;
}

const read = (reason: string): Verdict => ({ kind: 'read', reason });
const write = (reason: string): Verdict => ({ kind: 'write', reason });

const isWord = (t: SqlToken | undefined, ...values: string[]): boolean =>
  t !== undefined && t.type === 'word' && (values.length === 0 || values.includes(t.value));
const isPunct = (t: SqlToken | undefined, value: string): boolean =>
  t !== undefined && t.type === 'punctuation' && t.value === value;
const isName = (t: SqlToken | undefined): boolean =>
  t !== undefined && (t.type === 'word' || t.type === 'quoted_identifier');

/** Index just past the bracket group opening at `i` (or tokens.length if unbalanced). */
function skipGroup(tokens: readonly SqlToken[], i: number): number {
  let depth = 0;
  for (let j = i; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.type !== 'punctuation') continue;
    if (t.value === '(' || t.value === '[') depth++;
    else if (t.value === ')' || t.value === ']') {
      depth--;
      if (depth === 0) return j + 1;
    }
  }
  return tokens.length;
}

function analyzeStatement(tokens: readonly SqlToken[], matcher: FunctionMatcher): Verdict {
  for (const t of tokens) {
    if (t.unterminated) return write('unterminated literal or comment');
    if (t.type === 'unknown') return write(`unexpected character ${JSON.stringify(t.value)}`);
  }
  let i = 0;
  while (isPunct(tokens[i], '(')) i++;
  const first = tokens[i];
  if (!isWord(first)) return write('does not start with a keyword');
  const verb = first!.value;
  switch (verb) {
    case 'select':
    case 'values':
    case 'table':
    case 'with':
      return analyzeQuery(tokens, i, matcher);
    case 'show':
      return read('SHOW');
    case 'explain':
      return analyzeExplain(tokens, i + 1, matcher);
    case 'copy':
      return analyzeCopy(tokens, i + 1, matcher);
    default:
      if (SESSION_VERBS.has(verb)) return write(`${verb.toUpperCase()} uses session state`);
      return write(`${verb.toUpperCase()} statement`);
  }
}

/** SELECT / VALUES / TABLE / WITH ... starting at `i`. */
function analyzeQuery(tokens: readonly SqlToken[], i: number, matcher: FunctionMatcher): Verdict {
  let reason = tokens[i]!.value.toUpperCase();
  if (tokens[i]!.value === 'with') {
    const main = skipCtes(tokens, i);
    if (main < 0) return write('unrecognised WITH clause');
    let j = main;
    while (isPunct(tokens[j], '(')) j++;
    const mainVerb = tokens[j];
    if (!isWord(mainVerb, 'select', 'values', 'table')) {
      return write(`WITH ... ${(mainVerb?.text ?? 'nothing').toUpperCase()}`);
    }
    reason = `WITH ... ${mainVerb!.value.toUpperCase()}`;
  }
  const feature = findWriteFeature(tokens, matcher);
  return feature ? write(feature) : read(reason);
}

/** Index of the main statement after `WITH [RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (...) [SEARCH|CYCLE ...], ...`, or -1. */
function skipCtes(tokens: readonly SqlToken[], i: number): number {
  let j = i + 1;
  if (isWord(tokens[j], 'recursive')) j++;
  for (;;) {
    if (!isName(tokens[j])) return -1;
    j++;
    if (isPunct(tokens[j], '(')) j = skipGroup(tokens, j);
    if (!isWord(tokens[j], 'as')) return -1;
    j++;
    if (isWord(tokens[j], 'not')) j++;
    if (isWord(tokens[j], 'materialized')) j++;
    if (!isPunct(tokens[j], '(')) return -1;
    j = skipGroup(tokens, j);
    if (isWord(tokens[j], 'search')) {
      while (j < tokens.length && !isWord(tokens[j], 'set')) j++;
      j += 2; // SET column
    }
    if (isWord(tokens[j], 'cycle')) {
      while (j < tokens.length && !isWord(tokens[j], 'set')) j++;
      j += 2; // SET column
      if (isWord(tokens[j], 'to')) j += 4; // TO value DEFAULT value
      if (isWord(tokens[j], 'using')) j += 2; // USING column
    }
    if (isPunct(tokens[j], ',')) {
      j++;
      continue;
    }
    return j < tokens.length ? j : -1;
  }
}

/**
 * Scans a query for anything that writes or locks: data-modifying
 * sub-statements (CTEs), locking clauses, SELECT INTO, write functions.
 * Returns the reason, or undefined when none is found.
 */
function findWriteFeature(tokens: readonly SqlToken[], matcher: FunctionMatcher): string | undefined {
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    const prev = tokens[k - 1];
    const next = tokens[k + 1];
    // a column label after `.` or `AS` can be any keyword (t.for, AS into)
    if (t.type === 'word' && !isPunct(prev, '.') && !isWord(prev, 'as')) {
      switch (t.value) {
        case 'for': {
          const a = tokens[k + 1];
          const b = tokens[k + 2];
          const c = tokens[k + 3];
          if (isWord(a, 'update')) return 'locking clause FOR UPDATE';
          if (isWord(a, 'share')) return 'locking clause FOR SHARE';
          if (isWord(a, 'no') && isWord(b, 'key') && isWord(c, 'update')) return 'locking clause FOR NO KEY UPDATE';
          if (isWord(a, 'key') && isWord(b, 'share')) return 'locking clause FOR KEY SHARE';
          break;
        }
        case 'into':
          return 'SELECT INTO creates a table';
        case 'insert':
        case 'delete':
        case 'merge':
        case 'update':
          if (startsSubStatement(prev) && dmlShape(t.value, next)) return `data-modifying ${t.value.toUpperCase()}`;
          break;
      }
    }
    if (isName(t) && isPunct(next, '(')) {
      const qualified = isPunct(prev, '.') && isName(tokens[k - 2]);
      const hit = matcher(t.value, qualified ? tokens[k - 2]!.value : undefined);
      if (hit) return `calls ${qualified ? `${tokens[k - 2]!.value}.` : ''}${t.value}()`;
    }
  }
  return undefined;
}

/** DML inside a query only starts a (CTE) body: right after `(` or after the `)` closing a nested WITH list. */
function startsSubStatement(prev: SqlToken | undefined): boolean {
  return isPunct(prev, '(') || isPunct(prev, ')');
}

function dmlShape(verb: string, next: SqlToken | undefined): boolean {
  if (verb === 'insert' || verb === 'merge') return isWord(next, 'into');
  if (verb === 'delete') return isWord(next, 'from');
  // UPDATE [ONLY] table ... SET: the next token is a name other than SET
  return isName(next) && !isWord(next, 'set');
}

/** EXPLAIN [ (options) | ANALYZE VERBOSE ... ] statement, `i` just past EXPLAIN. */
function analyzeExplain(tokens: readonly SqlToken[], i: number, matcher: FunctionMatcher): Verdict {
  let analyze = false;
  if (isPunct(tokens[i], '(')) {
    const end = skipGroup(tokens, i);
    let j = i + 1;
    while (j < end - 1) {
      const name = tokens[j];
      const value = tokens[j + 1];
      if (isWord(name, 'analyze', 'analyse')) {
        const off =
          (value?.type === 'word' && ['false', 'off', 'no'].includes(value.value)) ||
          (value?.type === 'string' && ['false', 'off', 'no'].includes(value.value.toLowerCase())) ||
          (value?.type === 'number' && value.value === '0');
        if (!off) analyze = true;
      }
      // advance to the next option
      while (j < end - 1 && !isPunct(tokens[j], ',')) j = isPunct(tokens[j], '(') ? skipGroup(tokens, j) : j + 1;
      j++;
    }
    i = end;
  } else {
    while (isWord(tokens[i], 'analyze', 'analyse', 'verbose')) {
      if (tokens[i]!.value !== 'verbose') analyze = true;
      i++;
    }
  }
  const inner = tokens.slice(i);
  if (inner.length === 0) return write('EXPLAIN without a statement');
  let v = 0;
  while (isPunct(inner[v], '(')) v++;
  if (isWord(inner[v], 'execute')) return write('EXPLAIN EXECUTE needs the session that prepared the statement');
  if (!analyze) return read('EXPLAIN (not executed)');
  const verdict = analyzeStatement(inner, matcher);
  return verdict.kind === 'read'
    ? read(`EXPLAIN ANALYZE of ${verdict.reason}`)
    : write(`EXPLAIN ANALYZE executes ${verdict.reason}`);
}

/**
 * COPY: only `COPY table|(read-only query) TO STDOUT` is a read. COPY FROM
 * loads data; COPY TO a file or program writes on the server that runs it.
 */
function analyzeCopy(tokens: readonly SqlToken[], i: number, matcher: FunctionMatcher): Verdict {
  let j = i;
  if (isPunct(tokens[j], '(')) {
    const end = skipGroup(tokens, j);
    const inner = analyzeStatement(tokens.slice(j + 1, end - 1), matcher);
    if (inner.kind === 'write') return write(`COPY of ${inner.reason}`);
    j = end;
  } else {
    while (j < tokens.length && !isWord(tokens[j], 'to', 'from')) {
      j = isPunct(tokens[j], '(') ? skipGroup(tokens, j) : j + 1;
    }
  }
  if (isWord(tokens[j], 'from')) return write('COPY FROM loads data');
  if (isWord(tokens[j], 'to') && isWord(tokens[j + 1], 'stdout')) return read('COPY TO STDOUT');
  return write('COPY TO a server file or program');
}

function buildMatcher(entries: readonly string[]): FunctionMatcher {
  const exact = new Map<string, string | undefined>(); // name -> schema restriction (undefined = any)
  const exactAny = new Set<string>();
  const prefixes: { prefix: string; schema: string | undefined; entry: string }[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    const dot = entry.lastIndexOf('.');
    const schema = dot > 0 ? entry.slice(0, dot) : undefined;
    const name = dot > 0 ? entry.slice(dot + 1) : entry;
    if (name.endsWith('*')) prefixes.push({ prefix: name.slice(0, -1), schema, entry });
    else if (schema === undefined) exactAny.add(name);
    else exact.set(`${schema}.${name}`, entry);
  }
  return (name, schema) => {
    if (exactAny.has(name)) return name;
    if (schema === undefined) {
      for (const key of exact.keys()) if (key.slice(key.lastIndexOf('.') + 1) === name) return key;
    } else if (exact.has(`${schema}.${name}`)) return `${schema}.${name}`;
    for (const p of prefixes) {
      if (name.startsWith(p.prefix) && (p.schema === undefined || schema === undefined || p.schema === schema)) {
        return p.entry;
      }
    }
    return undefined;
  };
}
