/** Server settings of every node: fast and unsafe (tests only), replication and 2PC ready. */
export const BASE_SETTINGS: Readonly<Record<string, string>> = {
  listen_addresses: "'127.0.0.1'",
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  wal_level: 'replica',
  hot_standby: 'on',
  hot_standby_feedback: 'on',
  max_wal_senders: '10',
  max_replication_slots: '10',
  wal_keep_size: "'256MB'",
  max_prepared_transactions: '32',
  max_connections: '200',
  shared_buffers: "'32MB'",
  wal_retrieve_retry_interval: "'100ms'",
  // The WAL writer hibernates at 25x this when idle; at the default 200ms async commits could take 5 s to reach replicas.
  wal_writer_delay: "'10ms'",
  password_encryption: "'scram-sha-256'",
  logging_collector: 'off',
  log_min_messages: 'warning',
  log_line_prefix: "'%m [%p] '",
};

/** The password-protected login role every topology has (see README: authentication). */
export const PASSWORD_ROLE = 'pgm';
export const DEFAULT_PASSWORD = 'pgm-testkit-password';

/** Superuser `postgres` is trusted from 127.0.0.1; role `pgm` must give its password (scram-sha-256). */
export const HBA = [
  'local all all trust',
  `host all ${PASSWORD_ROLE} 127.0.0.1/32 scram-sha-256`,
  'host all all 127.0.0.1/32 trust',
  'host replication all 127.0.0.1/32 trust',
  '',
].join('\n');

export function settingsText(settings: Readonly<Record<string, string | number | boolean>>): string {
  return `${Object.entries(settings)
    .map(([k, v]) => `${k} = ${typeof v === 'string' ? v : String(v)}`)
    .join('\n')}\n`;
}

/** Quotes a value for postgresql.conf. */
export function confString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}
