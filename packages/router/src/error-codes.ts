// The error codes this package raises, added to core's PgmErrorCodes (see there).
declare module '@pg-multiverse/core' {
  interface PgmErrorCodes {
    SPLIT_BRAIN: 'two nodes claim to be primary: writes are refused';
    QUERY_TIMEOUT: 'the statement ran past its timeout';
    PARTITION_NOT_OWNED: 'a shard refused a write to a partition it does not own, and no newer partition map named another owner in time';
    PARTITION_MAP_CONFLICT: 'the partition map changed since it was read: the compare-and-set commit was refused';
    PARTITION_MAP_INVALID: 'a stored or proposed partition map does not fit the configured shards';
    MOVE_ABORTED: 'a partition hold gave up (timeout or queue bound): the move is aborted, the held statements run';
  }
}

/** The error codes this package raises besides core's shared ones (`CORE_ERROR_CODES`). */
export const ROUTER_ERROR_CODES = Object.freeze([
  'SPLIT_BRAIN',
  'QUERY_TIMEOUT',
  'PARTITION_NOT_OWNED',
  'PARTITION_MAP_CONFLICT',
  'PARTITION_MAP_INVALID',
  'MOVE_ABORTED',
] as const);
