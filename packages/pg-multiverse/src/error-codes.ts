// The error codes this package raises, added to core's PgmErrorCodes (see there).
declare module '@pg-multiverse/core' {
  interface PgmErrorCodes {
    ALREADY_INITIALIZED: 'initialize() was already called';
    POST_COMMIT_FAILED: 'a transaction committed but its follow-up failed (an error event, never thrown)';
    TRACING_UNAVAILABLE: 'the tracer option or tracing: true, without the optional peer @opentelemetry/api installed';
  }
}

/** The error codes this package raises besides core's shared ones (`CORE_ERROR_CODES`). */
export const FACADE_ERROR_CODES = Object.freeze([
  'ALREADY_INITIALIZED',
  'POST_COMMIT_FAILED',
  'TRACING_UNAVAILABLE',
] as const);
