import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Statements run on sessions the router lends out (`primary(...).query` and
 * `.withConnection`, used by transactions and migrations) are observed
 * (`queryExecuted` with reason `session`) while a context is in scope; the
 * context says what they belong to. Set by the caller around the work, read
 * when each statement settles; mutable, so a caller may fill it once it
 * knows (e.g. a transaction id assigned inside the work). Outside a context
 * (recovery scans, preflight checks) nothing is observed.
 */
export interface StatementContext {
  transactionId?: string;
}

const storage = new AsyncLocalStorage<StatementContext>();

export function currentStatementContext(): StatementContext | undefined {
  return storage.getStore();
}

export function runWithStatementContext<T>(context: StatementContext, fn: () => T): T {
  return storage.run(context, fn);
}
