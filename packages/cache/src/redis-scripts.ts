import { createHash } from 'node:crypto';

/**
 * KEYS: version keys. ARGV[1]: lifetime ms; ARGV[i+1]: a fresh random value
 * for KEYS[i] if it does not exist. Returns the current values. A version key
 * lives at least as long as any entry that recorded its value.
 */
export const SNAPSHOT_SCRIPT = `
local out = {}
for i, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if not v then
    v = ARGV[i + 1]
    redis.call('SET', k, v, 'PX', ARGV[1])
  else
    local ttl = redis.call('PTTL', k)
    if ttl >= 0 and ttl < tonumber(ARGV[1]) then redis.call('PEXPIRE', k, ARGV[1]) end
  end
  out[i] = v
end
return out
`;

/**
 * KEYS[1]: entry; KEYS[2..]: version keys. ARGV[1]: lifetime ms; ARGV[2]:
 * payload; ARGV[3..]: the versions seen before loading. Stores the entry only
 * if no version changed (returns 1), else stores nothing (returns 0).
 */
export const SET_SCRIPT = `
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) ~= ARGV[i + 1] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
for i = 2, #KEYS do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl >= 0 and ttl < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
return 1
`;

export function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex');
}
