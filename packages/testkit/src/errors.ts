/**
 * Errors of the testkit. The testkit depends on `pg` only (not on
 * `@pg-multiverse/core`), so it carries its own error class with the same
 * shape as core's `PgmError`: `name`, a `code` (always `TESTKIT_FAILED`), `cause`.
 */
export class TestkitError extends Error {
  override readonly name = 'TestkitError';
  readonly code = 'TESTKIT_FAILED' as const;
  readonly details: Record<string, unknown> | undefined;

  constructor(message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details;
  }
}
