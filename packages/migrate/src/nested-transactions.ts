import { PgmError } from '@pg-multiverse/core';

const BEGIN = /^\s*(?:BEGIN|START\s+TRANSACTION)\b[^;]*;?\s*$/i;
const COMMIT = /^\s*(?:COMMIT|END)(?:\s+(?:WORK|TRANSACTION))?\s*;?\s*$/i;
const ROLLBACK = /^\s*(?:ROLLBACK|ABORT)(?:\s+(?:WORK|TRANSACTION))?\s*;?\s*$/i;

/**
 * Inside a transactional migration, a migration's own `BEGIN` / `COMMIT` /
 * `ROLLBACK` become `SAVEPOINT` / `RELEASE SAVEPOINT` / `ROLLBACK TO SAVEPOINT`,
 * so the documented "BEGIN ... COMMIT, ROLLBACK on error" pattern nests in the
 * step's own transaction instead of committing it. Returns the SQL to run.
 */
export function createNestingRewriter(): (sql: string) => string {
  let depth = 0;
  return (sql) => {
    if (BEGIN.test(sql)) {
      depth++;
      return `SAVEPOINT pgm_nested_${depth}`;
    }
    const commit = COMMIT.test(sql);
    if (commit || ROLLBACK.test(sql)) {
      if (depth === 0) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          `"${sql.trim()}" without a matching BEGIN inside a transactional migration; set transaction: false to manage transactions yourself`,
        );
      }
      const name = `pgm_nested_${depth--}`;
      return commit ? `RELEASE SAVEPOINT ${name}` : `ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`;
    }
    return sql;
  };
}
