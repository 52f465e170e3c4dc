import { iterateSqlTokens, type SqlToken } from './tokenize.js';

/** One statement of a multi-statement SQL text. */
export interface SqlStatement {
  /** Source text from the statement's first token to its last (inner comments kept, the `;` excluded). */
  text: string;
  /** Offset of `text` in the whole SQL text. */
  start: number;
  /** Offset just past `text`. */
  end: number;
  /** The statement's tokens, comments excluded. Never empty. */
  tokens: SqlToken[];
}

/**
 * Split SQL text into statements on top-level semicolons: not inside strings,
 * quoted identifiers, comments, parentheses or brackets, nor inside the
 * `BEGIN ATOMIC ... END` body of `CREATE [OR REPLACE] FUNCTION|PROCEDURE`
 * (tracked like psql does: BEGIN/CASE open a block, END closes one).
 * Empty statements (only whitespace, comments or `;`) are dropped, so text
 * made only of comments yields `[]`.
 */
export function splitStatements(sql: string): SqlStatement[] {
  const out: SqlStatement[] = [];
  let tokens: SqlToken[] = [];
  let parenDepth = 0;
  let blockDepth = 0;
  let routineBody = false; // statement starts CREATE [OR REPLACE] FUNCTION|PROCEDURE

  const flush = () => {
    if (tokens.length > 0) {
      const first = tokens[0]!;
      const last = tokens[tokens.length - 1]!;
      out.push({ text: sql.slice(first.start, last.end), start: first.start, end: last.end, tokens });
    }
    tokens = [];
    parenDepth = 0;
    blockDepth = 0;
    routineBody = false;
  };

  for (const t of iterateSqlTokens(sql)) {
    if (t.type === 'comment') continue;
    if (t.type === 'punctuation') {
      if (t.value === ';' && parenDepth === 0 && blockDepth === 0) {
        flush();
        continue;
      }
      if (t.value === '(' || t.value === '[') parenDepth++;
      else if ((t.value === ')' || t.value === ']') && parenDepth > 0) parenDepth--;
    } else if (t.type === 'word') {
      if (tokens.length <= 3) routineBody = isRoutineStart([...tokens, t]);
      if (routineBody && parenDepth === 0) {
        if (t.value === 'begin') blockDepth++;
        else if (t.value === 'case' && blockDepth > 0) blockDepth++;
        else if (t.value === 'end' && blockDepth > 0) blockDepth--;
      }
    }
    tokens.push(t);
  }
  flush();
  return out;
}

function isRoutineStart(tokens: readonly SqlToken[]): boolean {
  const w = tokens.map((t) => (t.type === 'word' ? t.value : ''));
  if (w[0] !== 'create') return false;
  const kind = w[1] === 'or' && w[2] === 'replace' ? w[3] : w[1];
  return kind === 'function' || kind === 'procedure';
}
