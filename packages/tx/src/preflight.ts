import { type ConnectionProvider, PgmError } from '@pg-multiverse/core';

/** Throws `PREPARED_TRANSACTIONS_DISABLED` when the cluster's primary cannot run PREPARE TRANSACTION. */
export async function checkPreparedTransactions(provider: ConnectionProvider, clusterId: string): Promise<number> {
  const res = await provider.query<{ max_prepared_transactions: string }>('SHOW max_prepared_transactions');
  const value = Number(res.rows[0]?.max_prepared_transactions ?? 0);
  if (!(value > 0)) {
    throw new PgmError(
      'PREPARED_TRANSACTIONS_DISABLED',
      `Cluster "${clusterId}" has max_prepared_transactions = 0, so it cannot take part in cross-cluster transactions. ` +
        'Set max_prepared_transactions to at least max_connections (e.g. 100) in postgresql.conf of its primary AND its replicas, ' +
        'then restart the servers (or disable transactions / keep each transaction on one cluster).',
      { clusterId, details: { max_prepared_transactions: value } },
    );
  }
  return value;
}

/** PostgreSQL's answer when PREPARE TRANSACTION runs with max_prepared_transactions = 0. */
export function isPreparedDisabledError(err: unknown): boolean {
  const msg = (err as { message?: unknown })?.message;
  return typeof msg === 'string' && /prepared transactions are disabled/i.test(msg);
}
