// TEMPORARY: stand-ins until classify-sql.ts, hash-shard.ts land. Deleted then.

export function hashShard(key: unknown, partitions: number, _type?: string): number {
  const s = String(key);
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;
  return Math.abs(h) % partitions;
}
