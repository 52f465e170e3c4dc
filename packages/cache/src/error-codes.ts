// The error codes this package raises, added to core's PgmErrorCodes (see there).
declare module '@pg-multiverse/core' {
  interface PgmErrorCodes {
    CACHE_ERROR: 'a cache store or notify bus operation failed';
  }
}

/** The error codes this package raises besides core's shared ones (`CORE_ERROR_CODES`). */
export const CACHE_ERROR_CODES = Object.freeze(['CACHE_ERROR'] as const);
