/** PostgreSQL WAL positions (`pg_lsn`, text `X/Y`) as bigints: one implementation, in core. */
export { formatLsn, lsnToBigInt as parseLsn } from '@pg-multiverse/core';
