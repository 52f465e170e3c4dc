/** What one instance tells the others. */
export interface NotifyMessage {
  tags?: readonly string[];
  keys?: readonly string[];
  /** Clear everything. */
  all?: boolean;
}

interface Wire {
  /** sender instance id */
  i: string;
  t?: string[];
  k?: string[];
  a?: 1;
}

/** PostgreSQL rejects NOTIFY payloads of 8000 bytes or more; stay well below. */
export const MAX_PAYLOAD_BYTES = 7900;

const bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * Split a message into payloads under `MAX_PAYLOAD_BYTES`. A single tag or
 * key too large for one payload turns the message into "clear all".
 */
export function chunkMessages(instanceId: string, msg: NotifyMessage): string[] {
  if (msg.all) return [JSON.stringify({ i: instanceId, a: 1 } satisfies Wire)];
  const out: string[] = [];
  let cur: Wire = { i: instanceId };
  const base = bytes(JSON.stringify({ i: instanceId, t: [], k: [] }));
  let size = base;
  const flush = () => {
    if (cur.t || cur.k) out.push(JSON.stringify(cur));
    cur = { i: instanceId };
    size = base;
  };
  const items: ['t' | 'k', string][] = [
    ...(msg.tags ?? []).map((t) => ['t', t] as ['t', string]),
    ...(msg.keys ?? []).map((k) => ['k', k] as ['k', string]),
  ];
  for (const [field, value] of items) {
    const add = bytes(JSON.stringify(value)) + 1;
    if (base + add > MAX_PAYLOAD_BYTES) return [JSON.stringify({ i: instanceId, a: 1 } satisfies Wire)];
    if (size + add > MAX_PAYLOAD_BYTES) flush();
    (cur[field] ??= []).push(value);
    size += add;
  }
  flush();
  return out;
}

export function parseMessage(payload: string): { from: string; body: NotifyMessage } | undefined {
  try {
    const w = JSON.parse(payload) as Wire;
    if (!w || typeof w.i !== 'string') return undefined;
    const body: NotifyMessage = {};
    if (w.a === 1) body.all = true;
    if (Array.isArray(w.t)) body.tags = w.t.filter((x) => typeof x === 'string');
    if (Array.isArray(w.k)) body.keys = w.k.filter((x) => typeof x === 'string');
    return { from: w.i, body };
  } catch {
    return undefined;
  }
}
