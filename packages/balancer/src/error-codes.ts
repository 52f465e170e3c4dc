// The error codes this package raises, added to core's PgmErrorCodes (see there).
declare module '@pg-multiverse/core' {
  interface PgmErrorCodes {
    UNKNOWN_BALANCER: 'no balancer strategy has that name';
  }
}

/** The error codes this package raises besides core's shared ones (`CORE_ERROR_CODES`). */
export const BALANCER_ERROR_CODES = Object.freeze(['UNKNOWN_BALANCER'] as const);
