import type { NodeConnectionConfig } from '@pg-multiverse/core';

const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/**
 * The libpq connection string a subscription on the target uses to reach the source, from the
 * source's node configuration (fields override a `connectionString`). A password given as a
 * function is resolved here. The result holds the password: never print it.
 */
export async function subscriptionConninfo(node: NodeConnectionConfig): Promise<string> {
  const parts: Record<string, string> = {};
  if (node.connectionString) {
    const u = new URL(node.connectionString);
    if (u.hostname) parts.host = decodeURIComponent(u.hostname);
    if (u.port) parts.port = u.port;
    if (u.pathname.length > 1) parts.dbname = decodeURIComponent(u.pathname.slice(1));
    if (u.username) parts.user = decodeURIComponent(u.username);
    if (u.password) parts.password = decodeURIComponent(u.password);
    const sslmode = u.searchParams.get('sslmode');
    if (sslmode) parts.sslmode = sslmode;
  }
  if (node.host) parts.host = node.host;
  if (node.port) parts.port = String(node.port);
  if (node.database) parts.dbname = node.database;
  if (node.user) parts.user = node.user;
  const pw = typeof node.password === 'function' ? await node.password() : node.password;
  if (pw) parts.password = pw;
  if (node.ssl && !parts.sslmode) parts.sslmode = 'require';
  parts.application_name = 'pg-multiverse-reshard';
  return Object.entries(parts)
    .map(([k, v]) => `${k}=${quote(v)}`)
    .join(' ');
}
