/**
 * Every error thrown by pg-multiverse is a `PgmError` (or a subclass) with a
 * machine-readable `code`. The original cause (for example pg's
 * `DatabaseError`, SQLSTATE intact) stays reachable as `cause`.
 *
 * The codes are keys of `PgmErrorCodes`. Core declares the ones every package
 * shares; each package adds its own where it defines them, by augmenting this
 * interface (`declare module '@pg-multiverse/core' { interface PgmErrorCodes
 * { ... } }`, in its `error-codes.ts`), so core does not list other packages'
 * codes and a misspelt code is still a compile error. The value of each key
 * says what the code means.
 */
export interface PgmErrorCodes {
  INVALID_CONFIG: 'the configuration (or an option) is invalid; `ConfigError.issues` lists every problem';
  INVALID_ARGUMENT: 'a call got an argument it cannot use';
  NOT_INITIALIZED: 'used before initialize()/start()';
  CLOSED: 'used after close()';
  FEATURE_DISABLED: 'the feature is turned off by an option, or not available on the server';
  UNKNOWN_SCHEMA: 'no cluster owns the schema';
  UNKNOWN_CLUSTER: 'no cluster has that id';
  SHARD_KEY_REQUIRED: 'a sharded cluster needs a shard key for this statement';
  QUERY_FAILED: 'the server rejected the statement (SQLSTATE in `sqlState`)';
  CONNECTION_FAILED: 'no connection could be made or kept (refused, reset, authentication, TLS, DNS)';
  NO_AVAILABLE_NODE: 'no node can serve the statement now (e.g. the primary is marked down)';
}

export type PgmErrorCode = keyof PgmErrorCodes;

/** The codes core declares, shared by every package (each package exports its own list too). */
export const CORE_ERROR_CODES = Object.freeze([
  'INVALID_CONFIG',
  'INVALID_ARGUMENT',
  'NOT_INITIALIZED',
  'CLOSED',
  'FEATURE_DISABLED',
  'UNKNOWN_SCHEMA',
  'UNKNOWN_CLUSTER',
  'SHARD_KEY_REQUIRED',
  'QUERY_FAILED',
  'CONNECTION_FAILED',
  'NO_AVAILABLE_NODE',
] as const satisfies readonly PgmErrorCode[]);

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

const CONNECT_SYSTEM_CODES =
  /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EAI_FAIL|EPIPE|ERR_TLS_\w+|ERR_SSL_\w+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_\w+|CERT_\w+)$/;

/**
 * The SQLSTATE or system code of an error that says a connection could not be
 * opened or was lost: refused, reset, DNS, TLS, login refused (28xxx), unknown
 * database (3D000), too many connections (53300), 08xxx, server starting or
 * stopping (57P0x). Undefined for any other error (the statement's own failure).
 */
export function connectionFailureCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code)) {
      return /^(28|08|57P0)/.test(code) || code === '3D000' || code === '53300' ? code : undefined;
    }
    if (CONNECT_SYSTEM_CODES.test(code)) return code;
  }
  const message = err instanceof Error ? err.message : '';
  if (/does not support SSL connections|Connection terminated|timeout exceeded when trying to connect/i.test(message)) {
    return 'CONNECTION';
  }
  return undefined;
}
