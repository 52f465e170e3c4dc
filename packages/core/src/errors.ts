/**
 * Every error thrown by pg-multiverse is a `PgmError` (or a subclass) with a
 * machine-readable `code`. The original cause (for example pg's
 * `DatabaseError`, SQLSTATE intact) stays reachable as `cause`.
 */
export type PgmErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_ARGUMENT'
  | 'NOT_INITIALIZED'
  | 'ALREADY_INITIALIZED'
  | 'CLOSED'
  | 'FEATURE_DISABLED'
  | 'UNKNOWN_SCHEMA'
  | 'UNKNOWN_CLUSTER'
  | 'UNKNOWN_BALANCER'
  | 'NO_AVAILABLE_NODE'
  | 'SPLIT_BRAIN'
  | 'SHARD_KEY_REQUIRED'
  | 'QUERY_FAILED'
  | 'QUERY_TIMEOUT'
  | 'CONNECTION_FAILED'
  | 'CACHE_ERROR'
  | 'TRANSACTION_FAILED'
  | 'TRANSACTION_TIMEOUT'
  | 'TRANSACTION_IN_DOUBT'
  | 'POST_COMMIT_FAILED'
  | 'PREPARED_TRANSACTIONS_DISABLED'
  | 'MIGRATION_FAILED'
  | 'MIGRATION_LOAD_FAILED'
  | 'MIGRATION_LOCK_TIMEOUT'
  | 'MIGRATION_CHECKSUM_MISMATCH'
  | 'MIGRATION_DEPENDENCY'
  | 'MIGRATION_OUT_OF_ORDER'
  | 'MIGRATION_NOT_REVERSIBLE'
  | 'TESTKIT_FAILED';

export interface PgmErrorOptions {
  cause?: unknown;
  clusterId?: string;
  nodeId?: string;
  schema?: string;
  /** Free-form structured details (never secrets). */
  details?: Record<string, unknown>;
}

/**
 * Brand on every PgmError, registered globally (`Symbol.for`) so that errors
 * from another copy of this package (ESM and CJS builds loaded side by side,
 * or two installed versions) are still recognised.
 */
const PGM_ERROR = Symbol.for('pg-multiverse.PgmError');

export class PgmError extends Error {
  /** `err instanceof PgmError` holds for PgmErrors of any copy of this package (see `isPgmError`). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class instanceof was asked about (a subclass keeps plain instanceof)
    if (this === PgmError) return isBranded(value);
    // biome-ignore lint/complexity/noThisInStatic: as above
    return Function.prototype[Symbol.hasInstance].call(this, value);
  }

  declare readonly [PGM_ERROR]: true;
  override readonly name: string = 'PgmError';
  readonly code: PgmErrorCode;
  readonly clusterId: string | undefined;
  readonly nodeId: string | undefined;
  readonly schema: string | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: PgmErrorCode, message: string, options: PgmErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.clusterId = options.clusterId;
    this.nodeId = options.nodeId;
    this.schema = options.schema;
    this.details = options.details;
    Object.defineProperty(this, PGM_ERROR, { value: true });
  }

  /** SQLSTATE of the underlying PostgreSQL error, if any. */
  get sqlState(): string | undefined {
    let c: unknown = this.cause;
    for (let i = 0; i < 5 && c; i++) {
      const code = (c as { code?: unknown }).code;
      if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
      c = (c as { cause?: unknown }).cause;
    }
    return undefined;
  }
}

/** One problem found while validating a configuration. */
export interface ConfigIssue {
  /** Dotted path into the configuration, e.g. `users_cluster.primary.port`. */
  path: string;
  /** What is wrong and what to do. */
  message: string;
}

/** Thrown by `validateConfiguration`; lists every problem, one per line. */
export class ConfigError extends PgmError {
  override readonly name = 'ConfigError';
  readonly issues: readonly ConfigIssue[];
  constructor(issues: readonly ConfigIssue[]) {
    super(
      'INVALID_CONFIG',
      `Invalid pg-multiverse configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${issues
        .map((i) => `  - ${i.path}: ${i.message}`)
        .join('\n')}`,
      { details: { issues } },
    );
    this.issues = issues;
  }
}

function isBranded(value: unknown): value is PgmError {
  return typeof value === 'object' && value !== null && (value as { [PGM_ERROR]?: unknown })[PGM_ERROR] === true;
}

/**
 * True when `err` is a PgmError, optionally of the given code. Works across
 * copies of the package (ESM and CJS, two versions): it checks a global
 * brand, not the class identity.
 */
export function isPgmError(err: unknown, code?: PgmErrorCode): err is PgmError {
  return isBranded(err) && (code === undefined || err.code === code);
}
