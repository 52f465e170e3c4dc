import { BoundedMemo } from './memo.js';
import { type SqlStatement, splitStatements } from './split-statements.js';
import { SESSION_VERBS, type SqlKind, statementKind } from './statement-kind.js';
import { statementTables } from './statement-tables.js';
import { isWord, statementStart } from './syntax.js';
import { iterateSqlTokens } from './tokenize.js';
import { parseWithClause } from './with-clause.js';
import { DEFAULT_WRITE_FUNCTIONS, type WriteFunctionMatcher, writeFunctionMatcher } from './write-functions.js';

export type { SqlKind } from './statement-kind.js';

export interface AnalyzeSqlOptions {
  /**
   * Extra functions whose call makes a statement a write (added to
   * `DEFAULT_WRITE_FUNCTIONS`). `name` matches calls with any schema, `schema.name`
   * matches `schema.name(...)` and unqualified `name(...)`, a trailing `*`
   * matches a prefix (`audit_*`).
   */
  writeFunctions?: Iterable<string>;
}

export interface SqlAnalyzerOptions extends AnalyzeSqlOptions {
  /** Entries of the analyzer's memo (per exact text). Default 2000 (and at most ~8 MB of SQL text). */
  cacheSize?: number;
}

/** One statement of the text. */
export interface SqlStatementAnalysis {
  /** Offsets of the statement in the text (`sql.slice(start, end)`; the `;` excluded). */
  start: number;
  end: number;
  /**
   * The statement's command, upper case: its first keyword (`SELECT`, `INSERT`,
   * `EXPLAIN`, `BEGIN`, `CREATE`, ...); for `WITH ...` the main statement's
   * (`WITH x AS (...) DELETE ...` is `DELETE`). `''` when it does not start
   * with a keyword.
   */
  command: string;
  kind: SqlKind;
  /** Why: e.g. `SELECT`, `locking clause FOR UPDATE`, `INSERT statement`. */
  reason: string;
  /** Tables read / written (see `SqlTextAnalysis`). */
  read: readonly string[];
  written: readonly string[];
  /** BEGIN, START TRANSACTION, COMMIT, END, ROLLBACK, ABORT, SAVEPOINT, RELEASE, PREPARE TRANSACTION. */
  transactionControl: boolean;
  /**
   * Creates, changes or needs state of the session it runs on: SET, RESET,
   * PREPARE, EXECUTE, DEALLOCATE, LISTEN, UNLISTEN, DISCARD, DECLARE, FETCH,
   * MOVE, CLOSE, LOAD.
   */
  sessionState: boolean;
}

/** What a SQL text does, for routing (kind) and caching (tables). Frozen; shared by every caller. */
export interface SqlTextAnalysis {
  /** `read` only when every statement is proven read-only (may run on a replica); anything else is `write`. */
  kind: SqlKind;
  /** Why, for logs and `route.reason`: e.g. `SELECT`, `statement 2: INSERT statement`, `empty SQL text`. */
  reason: string;
  /**
   * Tables read and written by the whole text, as written: `table` or
   * `schema.table` (of `db.schema.table` the last two parts), each part
   * printed like PostgreSQL's quote_ident (`users`, `"Orders"`). Unqualified
   * names belong to the search_path. Deduplicated in order of appearance; a
   * table both read and written is in both. CTE names and function calls are
   * not tables; tables touched inside functions, views or triggers are not seen.
   */
  read: readonly string[];
  written: readonly string[];
  /** The non-empty statements, in order. */
  statements: readonly SqlStatementAnalysis[];
  /** More than one statement (the extended protocol refuses those: simple protocol only). */
  multiStatement: boolean;
  /** Some statement is transaction control. */
  transactionControl: boolean;
  /** Some statement uses session state. */
  sessionState: boolean;
}

export interface SqlAnalyzer {
  /** The analysis of `sql`, memoized per exact text. */
  analyze(sql: string): SqlTextAnalysis;
}

const TRANSACTION_VERBS = new Set(['begin', 'start', 'commit', 'end', 'rollback', 'abort', 'savepoint', 'release']);
const EMPTY: readonly string[] = Object.freeze([]);

function frozen(list: string[]): readonly string[] {
  return list.length === 0 ? EMPTY : Object.freeze(list);
}

function analyzeStatement(st: SqlStatement, matcher: WriteFunctionMatcher): SqlStatementAnalysis {
  const tokens = st.tokens;
  const verdict = statementKind(tokens, matcher);
  const tables = statementTables(tokens);
  const i = statementStart(tokens);
  const first = tokens[i];
  let command = '';
  let transactionControl = false;
  let sessionState = false;
  if (isWord(first)) {
    const verb = first!.value;
    command = verb;
    if (verb === 'with') {
      const main = parseWithClause(tokens, i).main;
      const mainVerb = main < 0 ? undefined : tokens[statementStart(tokens, main)];
      if (isWord(mainVerb)) command = mainVerb!.value;
    } else if (verb === 'prepare' && isWord(tokens[i + 1], 'transaction')) {
      transactionControl = true;
    } else if (TRANSACTION_VERBS.has(verb)) {
      transactionControl = true;
    } else if (SESSION_VERBS.has(verb) && verb !== 'notify') {
      sessionState = true;
    }
    command = command.toUpperCase();
  }
  return Object.freeze({
    start: st.start,
    end: st.end,
    command,
    kind: verdict.kind,
    reason: verdict.reason,
    read: frozen(tables.read),
    written: frozen(tables.written),
    transactionControl,
    sessionState,
  });
}

function hasUnterminatedComment(sql: string): boolean {
  for (const t of iterateSqlTokens(sql)) if (t.type === 'comment' && t.unterminated) return true;
  return false;
}

/** The analysis of one text, uncached. */
function analyzeText(sql: string, matcher: WriteFunctionMatcher): SqlTextAnalysis {
  const statements = splitStatements(sql).map((st) => analyzeStatement(st, matcher));
  const read = new Set<string>();
  const written = new Set<string>();
  let transactionControl = false;
  let sessionState = false;
  for (const s of statements) {
    for (const n of s.read) read.add(n);
    for (const n of s.written) written.add(n);
    transactionControl ||= s.transactionControl;
    sessionState ||= s.sessionState;
  }
  const n = statements.length;
  let kind: SqlKind = 'write';
  let reason: string;
  const bad = statements.findIndex((s) => s.kind === 'write');
  if (sql.includes('/*') && hasUnterminatedComment(sql)) reason = 'unterminated comment';
  else if (n === 0) reason = 'empty SQL text';
  else if (bad >= 0) reason = n > 1 ? `statement ${bad + 1}: ${statements[bad]!.reason}` : statements[bad]!.reason;
  else {
    kind = 'read';
    reason = n > 1 ? `${n} read-only statements` : statements[0]!.reason;
  }
  return Object.freeze({
    kind,
    reason,
    read: frozen([...read]),
    written: frozen([...written]),
    statements: Object.freeze(statements),
    multiStatement: n > 1,
    transactionControl,
    sessionState,
  });
}

const NOT_A_STRING: SqlTextAnalysis = Object.freeze({
  kind: 'write',
  reason: 'not a string',
  read: EMPTY,
  written: EMPTY,
  statements: Object.freeze([]),
  multiStatement: false,
  transactionControl: false,
  sessionState: false,
});

const MEMO_MAX_SIZE = 8_000_000; // characters of SQL text (plus a fixed cost per entry)

/** An analyzer with its own write-function list and memo. */
export function createSqlAnalyzer(options: SqlAnalyzerOptions = {}): SqlAnalyzer {
  const matcher = writeFunctionMatcher([...DEFAULT_WRITE_FUNCTIONS, ...(options.writeFunctions ?? [])]);
  const memo = new BoundedMemo<SqlTextAnalysis>(options.cacheSize ?? 2000, MEMO_MAX_SIZE);
  // The last text asked about: layers that ask about one statement in turn (the pg.Pool view,
  // the planner, tracing) get it without hashing the text again, which for a text built per
  // call (an ORM's) is the costly part of a memo lookup. A repeat hit is not counted in the memo.
  let lastText: string | undefined;
  let lastAnalysis: SqlTextAnalysis | undefined;
  return {
    analyze(sql: string): SqlTextAnalysis {
      if (typeof sql !== 'string') return NOT_A_STRING;
      if (sql === lastText) return lastAnalysis!;
      let a = memo.get(sql);
      if (a === undefined) {
        a = analyzeText(sql, matcher);
        memo.set(sql, a, sql.length + 64);
      }
      lastText = sql;
      lastAnalysis = a;
      return a;
    },
  };
}

const defaultAnalyzer = createSqlAnalyzer();
/** Analyzers per `writeFunctions` list (the memo key of the option: the sorted list), at most 16. */
const customAnalyzers = new Map<string, SqlAnalyzer>();

function analyzerFor(options: AnalyzeSqlOptions | undefined): SqlAnalyzer {
  if (!options?.writeFunctions) return defaultAnalyzer;
  const list = [...options.writeFunctions].sort();
  if (list.length === 0) return defaultAnalyzer;
  const key = list.join('\u0000');
  let a = customAnalyzers.get(key);
  if (!a) {
    if (customAnalyzers.size >= 16) customAnalyzers.delete(customAnalyzers.keys().next().value!);
    a = createSqlAnalyzer({ writeFunctions: list, cacheSize: 500 });
    customAnalyzers.set(key, a);
  }
  return a;
}

/**
 * What a SQL text does: `kind` (`read` only when provably read-only), the
 * tables it reads and writes, and per statement its command, kind, tables
 * and whether it is transaction control or uses session state. Memoized per
 * exact text (and `writeFunctions` list) in a bounded memo; the result is frozen.
 */
export function analyzeSql(sql: string, options?: AnalyzeSqlOptions): SqlTextAnalysis {
  return analyzerFor(options).analyze(sql);
}
