/** PostgreSQL WAL positions (`pg_lsn`, text `X/Y`) as bigints, for comparison and lag in bytes. */
export function parseLsn(text: string | null | undefined): bigint | undefined {
  if (!text) return undefined;
  const slash = text.indexOf('/');
  if (slash <= 0) return undefined;
  const hi = Number.parseInt(text.slice(0, slash), 16);
  const lo = Number.parseInt(text.slice(slash + 1), 16);
  if (!Number.isFinite(hi) || !Number.isFinite(lo)) return undefined;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}
