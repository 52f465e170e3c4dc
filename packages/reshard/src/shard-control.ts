import { type ConnectionProvider, quoteIdent, type ShardKeyType } from '@pg-multiverse/core';
import { CONTROL_SCHEMA, helperDdl, helperTable } from './row-filter.js';

const S = quoteIdent(CONTROL_SCHEMA);

/**
 * Creates the engine's control objects on one server (idempotent, safe when several processes
 * race): the schema and the hash helper of `type`. Returns the helper's OID (the constant in
 * row filters on that server).
 */
export async function ensureShardControl(p: ConnectionProvider, type: ShardKeyType): Promise<number> {
  await p.withConnection(async (c) => {
    await c.query('BEGIN');
    try {
      await c.query("SELECT pg_advisory_xact_lock(hashtext('pgm_reshard.control'))");
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
      await c.query(helperDdl(type));
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    }
  });
  const r = await p.query<{ oid: number }>('SELECT $1::regclass::oid::int AS oid', [
    `${CONTROL_SCHEMA}.${helperTable(type)}`,
  ]);
  return Number(r.rows[0]!.oid);
}
