import { parseExplain } from './explain.js';
import { isName, isPunct, isWord, skipGroup, statementStart } from './syntax.js';
import type { SqlToken } from './tokenize.js';
import { parseWithClause } from './with-clause.js';
import type { WriteFunctionMatcher } from './write-functions.js';

/** Where a statement may run: `read` = any node (replicas included), `write` = the primary. */
export type SqlKind = 'read' | 'write';

/** A statement's classification and why. */
export interface KindVerdict {
  kind: SqlKind;
  reason: string;
}

/** Statements that create or depend on session state: they go to the primary (the session's node). */
export const SESSION_VERBS: ReadonlySet<string> = new Set([
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

const read = (reason: string): KindVerdict => ({ kind: 'read', reason });
const write = (reason: string): KindVerdict => ({ kind: 'write', reason });

/**
 * Read/write rules for one statement (comment-free tokens): `read` only when
 * it is proven read-only (SELECT/VALUES/TABLE/WITH without writes or locks,
 * SHOW, EXPLAIN that does not execute a write, COPY ... TO STDOUT).
 */
export function statementKind(tokens: readonly SqlToken[], matcher: WriteFunctionMatcher): KindVerdict {
  for (const t of tokens) {
    if (t.unterminated) return write('unterminated literal or comment');
    if (t.type === 'unknown') return write(`unexpected character ${JSON.stringify(t.value)}`);
  }
  const i = statementStart(tokens);
  const first = tokens[i];
  if (!isWord(first)) return write('does not start with a keyword');
  const verb = first!.value;
  switch (verb) {
    case 'select':
    case 'values':
    case 'table':
    case 'with':
      return queryKind(tokens, i, matcher);
    case 'show':
      return read('SHOW');
    case 'explain':
      return explainKind(tokens, i + 1, matcher);
    case 'copy':
      return copyKind(tokens, i + 1, matcher);
    default:
      if (SESSION_VERBS.has(verb)) return write(`${verb.toUpperCase()} uses session state`);
      return write(`${verb.toUpperCase()} statement`);
  }
}

/** SELECT / VALUES / TABLE / WITH ... starting at `i`. */
function queryKind(tokens: readonly SqlToken[], i: number, matcher: WriteFunctionMatcher): KindVerdict {
  let reason = tokens[i]!.value.toUpperCase();
  if (tokens[i]!.value === 'with') {
    const main = parseWithClause(tokens, i).main;
    if (main < 0) return write('unrecognised WITH clause');
    const mainVerb = tokens[statementStart(tokens, main)];
    if (!isWord(mainVerb, 'select', 'values', 'table')) {
      return write(`WITH ... ${(mainVerb?.text ?? 'nothing').toUpperCase()}`);
    }
    reason = `WITH ... ${mainVerb!.value.toUpperCase()}`;
  }
  const feature = findWriteFeature(tokens, matcher);
  return feature ? write(feature) : read(reason);
}

/**
 * Scans a query for anything that writes or locks: data-modifying
 * sub-statements (CTEs), locking clauses, SELECT INTO, write functions.
 * Returns the reason, or undefined when none is found.
 */
function findWriteFeature(tokens: readonly SqlToken[], matcher: WriteFunctionMatcher): string | undefined {
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
function explainKind(tokens: readonly SqlToken[], i: number, matcher: WriteFunctionMatcher): KindVerdict {
  const { analyze, body } = parseExplain(tokens, i);
  const inner = tokens.slice(body);
  if (inner.length === 0) return write('EXPLAIN without a statement');
  if (isWord(inner[statementStart(inner)], 'execute')) {
    return write('EXPLAIN EXECUTE needs the session that prepared the statement');
  }
  if (!analyze) return read('EXPLAIN (not executed)');
  const verdict = statementKind(inner, matcher);
  return verdict.kind === 'read'
    ? read(`EXPLAIN ANALYZE of ${verdict.reason}`)
    : write(`EXPLAIN ANALYZE executes ${verdict.reason}`);
}

/**
 * COPY: only `COPY table|(read-only query) TO STDOUT` is a read. COPY FROM
 * loads data; COPY TO a file or program writes on the server that runs it.
 */
function copyKind(tokens: readonly SqlToken[], i: number, matcher: WriteFunctionMatcher): KindVerdict {
  let j = i;
  if (isPunct(tokens[j], '(')) {
    const end = skipGroup(tokens, j);
    const inner = statementKind(tokens.slice(j + 1, end - 1), matcher);
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
