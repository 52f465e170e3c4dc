import type { QueryCacheEvents } from '@pg-multiverse/cache';
import type { PgmError } from '@pg-multiverse/core';
import type { MigrationEvents } from '@pg-multiverse/migrate';
import type { ReshardEvents } from '@pg-multiverse/reshard';
import type { RouterEvents, RouterWarning } from '@pg-multiverse/router';
import type { TransactionEvents } from '@pg-multiverse/tx';

/** The payload of each event of an emitter whose events map names to argument tuples. */
type Payloads<E> = { [K in keyof E]: E[K] extends readonly [infer P, ...unknown[]] ? P : never };

// What the facade forwards from each package, by the package's own event names: a name that a
// package does not emit is a compile error here, and the payload types come from the package.

/** Router events passed on as they are (`queryExecuted` is forwarded by the metrics hook). */
export const ROUTER_EVENTS = [
  'nodeDown',
  'nodeUp',
  'clusterDown',
  'clusterRecovered',
  'roleChanged',
  'replicaLagging',
  'readFallback',
  'splitBrain',
  'primaryChanged',
  'replicaCaughtUp',
  'queryRetried',
  'schemaRegistered',
  'poolError',
  'partitionMapChanged',
  'partitionsReleased',
] as const satisfies readonly (keyof RouterEvents)[];

export const CACHE_EVENTS = [
  'cacheHit',
  'cacheMiss',
  'cacheStale',
  'cacheInvalidated',
  'cacheEvicted',
  'cacheError',
] as const satisfies readonly (keyof QueryCacheEvents)[];

export const TRANSACTION_EVENTS = [
  'transactionStarted',
  'transactionCommitted',
  'transactionRolledBack',
  'transactionRecovered',
  'recoveryFailed',
] as const satisfies readonly (keyof TransactionEvents)[];

export const MIGRATION_EVENTS = [
  'migrationStarted',
  'migrationCompleted',
  'migrationFailed',
] as const satisfies readonly (keyof MigrationEvents)[];

export const RESHARD_EVENTS = [
  'moveStarted',
  'moveStateChanged',
  'moveProgress',
  'cutoverAborted',
  'moveCompleted',
  'moveRolledBack',
] as const satisfies readonly (keyof ReshardEvents)[];

/**
 * Events of `PgMultiverse`: the router's, the cache's, the transaction
 * manager's, the migration manager's and the move engine's, each with the payload type its
 * package declares, plus the facade's own `error`. Payloads never contain
 * passwords or query parameters.
 */
export type PgMultiverseEvents = Pick<Payloads<RouterEvents>, 'queryExecuted' | (typeof ROUTER_EVENTS)[number]> &
  Pick<QueryCacheEvents, (typeof CACHE_EVENTS)[number]> &
  Pick<Payloads<TransactionEvents>, (typeof TRANSACTION_EVENTS)[number]> &
  Pick<Payloads<MigrationEvents>, (typeof MIGRATION_EVENTS)[number]> &
  Pick<Payloads<ReshardEvents>, (typeof RESHARD_EVENTS)[number]> & {
    /**
     * Something failed that the caller's promise could not report: code
     * `POST_COMMIT_FAILED` (a committed transaction's follow-up failed).
     * Informational; never thrown.
     */
    error: PgmError;
    /**
     * Something works, but not everything configured will; emitted once. At `initialize()`:
     * `code: 'PREPARED_TRANSACTIONS_DISABLED'` when a participant has `max_prepared_transactions = 0`
     * (`participants`: where a cross-cluster transaction would be refused; `error`: the refusal).
     * From the router: `PARTITION_MAP_DIFFERS` (the stored partition map differs from the
     * configuration; the stored one is in force) and `PARTITION_MAP_INVALID` (see RouterWarning).
     */
    warning: PgMultiverseWarning;
  };

/** Payload of the `warning` event: the facade's own, or the router's (partition maps) passed on. */
export type PgMultiverseWarning = PreparedTransactionsWarning | RouterWarning;

/** `PREPARED_TRANSACTIONS_DISABLED`, at `initialize()`. */
export interface PreparedTransactionsWarning {
  code: 'PREPARED_TRANSACTIONS_DISABLED';
  message: string;
  participants: string[];
  error: PgmError;
}

export type PgMultiverseEventName = keyof PgMultiverseEvents;
