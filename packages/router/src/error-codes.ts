// The error codes this package raises, added to core's PgmErrorCodes (see there).
declare module '@pg-multiverse/core' {
  interface PgmErrorCodes {
    SPLIT_BRAIN: 'two nodes claim to be primary: writes are refused';
    QUERY_TIMEOUT: 'the statement ran past its timeout';
    CROSS_SHARD_UNSUPPORTED: 'a statement without one shard key uses a construct that cannot be run across shards correctly (the message names it); pass { shardKey }';
    SHARD_KEY_UPDATE: 'a statement assigns the shard key (rows would move to another shard): refused';
  }
}

/** The error codes this package raises besides core's shared ones (`CORE_ERROR_CODES`). */
export const ROUTER_ERROR_CODES = Object.freeze([
  'SPLIT_BRAIN',
  'QUERY_TIMEOUT',
  'CROSS_SHARD_UNSUPPORTED',
  'SHARD_KEY_UPDATE',
] as const);
