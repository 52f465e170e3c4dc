/**
 * Write functions: calls that make an otherwise read-only statement a write.
 * Entries: `name` matches calls with any schema, `schema.name` matches
 * `schema.name(...)` and unqualified `name(...)`, a trailing `*` matches a
 * prefix (`audit_*`).
 */

/**
 * Functions that make an otherwise read-only statement a write: they change
 * data or sequences, take locks, or create session/transaction state that
 * must live on the primary (or would fail on a standby).
 */
export const DEFAULT_WRITE_FUNCTIONS: readonly string[] = Object.freeze([
  // sequences (currval/lastval read the session's own nextval, so they stay with it)
  'nextval',
  'setval',
  'currval',
  'lastval',
  // advisory locks: pg_advisory_lock[_shared], pg_advisory_xact_lock[_shared], pg_try_advisory_*, pg_advisory_unlock*
  'pg_advisory_*',
  'pg_try_advisory_*',
  // large objects (descriptor-based calls need the same session/transaction)
  'lo_creat',
  'lo_create',
  'lo_open',
  'lo_close',
  'lo_import',
  'lo_export',
  'lo_unlink',
  'lo_write',
  'lowrite',
  'loread',
  'lo_put',
  'lo_from_bytea',
  'lo_truncate',
  'lo_truncate64',
  'lo_lseek',
  'lo_lseek64',
  'lo_tell',
  'lo_tell64',
  // session and transaction state
  'set_config',
  'pg_notify',
  'txid_current',
  'pg_current_xact_id',
  // WAL, backups, replication slots and origins, statistics resets, server files
  'pg_switch_wal',
  'pg_create_restore_point',
  'pg_backup_start',
  'pg_backup_stop',
  'pg_start_backup',
  'pg_stop_backup',
  'pg_create_physical_replication_slot',
  'pg_create_logical_replication_slot',
  'pg_drop_replication_slot',
  'pg_copy_physical_replication_slot',
  'pg_copy_logical_replication_slot',
  'pg_replication_slot_advance',
  'pg_logical_slot_get_changes',
  'pg_logical_slot_get_binary_changes',
  'pg_logical_emit_message',
  'pg_replication_origin_*',
  'pg_stat_reset*',
  'pg_reload_conf',
  'pg_rotate_logfile',
  'pg_import_system_collations',
  'pg_file_write',
  'pg_file_rename',
  'pg_file_unlink',
  'pg_file_sync',
  // runs arbitrary SQL elsewhere
  'dblink_exec',
]);

/** Returns the matching entry for a call of `name` (qualified by `schema` if written so), or undefined. */
export type WriteFunctionMatcher = (name: string, schema: string | undefined) => string | undefined;

/** Builds a matcher for `entries` (the caller adds `DEFAULT_WRITE_FUNCTIONS` if wanted). */
export function writeFunctionMatcher(entries: readonly string[]): WriteFunctionMatcher {
  const exact = new Map<string, string | undefined>(); // name -> schema restriction (undefined = any)
  const exactAny = new Set<string>();
  const prefixes: { prefix: string; schema: string | undefined; entry: string }[] = [];
  for (const raw of entries) {
    const entry = raw.trim();
    if (!entry) continue;
    const dot = entry.lastIndexOf('.');
    const schema = dot > 0 ? entry.slice(0, dot) : undefined;
    const name = dot > 0 ? entry.slice(dot + 1) : entry;
    if (name.endsWith('*')) prefixes.push({ prefix: name.slice(0, -1), schema, entry });
    else if (schema === undefined) exactAny.add(name);
    else exact.set(`${schema}.${name}`, entry);
  }
  return (name, schema) => {
    if (exactAny.has(name)) return name;
    if (schema === undefined) {
      for (const key of exact.keys()) if (key.slice(key.lastIndexOf('.') + 1) === name) return key;
    } else if (exact.has(`${schema}.${name}`)) return `${schema}.${name}`;
    for (const p of prefixes) {
      if (name.startsWith(p.prefix) && (p.schema === undefined || schema === undefined || p.schema === schema)) {
        return p.entry;
      }
    }
    return undefined;
  };
}
