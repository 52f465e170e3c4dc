// The error codes this package raises, added to core's PgmErrorCodes (see there).
declare module '@pg-multiverse/core' {
  interface PgmErrorCodes {
    MOVE_REFUSED: 'a partition move cannot start: a precondition names what to fix';
    MOVE_FAILED: 'a partition move failed and was rolled back (the source still owns the partitions)';
    MOVE_CUTOVER_TIMEOUT: 'the cutover did not finish within holdTimeoutMs; the move was rolled back, no write was lost';
    MOVE_IN_PROGRESS: 'another process is running a move of this cluster';
    MOVE_NEEDS_RECOVERY: 'an interrupted move could not be finished or rolled back; run recoverMoves()';
  }
}

/** The error codes this package raises besides core's shared ones (`CORE_ERROR_CODES`). */
export const RESHARD_ERROR_CODES = Object.freeze([
  'MOVE_REFUSED',
  'MOVE_FAILED',
  'MOVE_CUTOVER_TIMEOUT',
  'MOVE_IN_PROGRESS',
  'MOVE_NEEDS_RECOVERY',
] as const);
