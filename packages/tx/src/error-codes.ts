// The error codes this package raises, added to core's PgmErrorCodes (see there).
declare module '@pg-multiverse/core' {
  interface PgmErrorCodes {
    TRANSACTION_FAILED: 'the transaction was rolled back';
    TRANSACTION_TIMEOUT: 'the transaction ran past timeoutMs and was rolled back';
    TRANSACTION_IN_DOUBT: 'whether the transaction committed is unknown; recovery finishes it';
    PREPARED_TRANSACTIONS_DISABLED: 'a cross-cluster transaction needs max_prepared_transactions > 0';
  }
}

/** The error codes this package raises besides core's shared ones (`CORE_ERROR_CODES`). */
export const TX_ERROR_CODES = Object.freeze([
  'TRANSACTION_FAILED',
  'TRANSACTION_TIMEOUT',
  'TRANSACTION_IN_DOUBT',
  'PREPARED_TRANSACTIONS_DISABLED',
] as const);
