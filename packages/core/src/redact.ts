import type { NodeConfig } from './config.js';

const URL_CREDENTIALS = /\b(postgres(?:ql)?|redis|rediss):\/\/([^:@/\s]*):([^@\s]*)@/gi;
const KV_PASSWORD = /\b(password|pass|pwd)\s*=\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s&;]+)/gi;
const JSON_PASSWORD = /("password"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

/**
 * Remove secrets from free text: `postgres://u:secret@h` -> `postgres://u:***@h`,
 * `password=secret` -> `password=***`, `"password":"x"` -> `"password":"***"`,
 * and every literal in `secrets` (e.g. configured passwords).
 */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text
    .replace(URL_CREDENTIALS, (_m, scheme: string, user: string) => `${scheme}://${user}:***@`)
    .replace(KV_PASSWORD, (_m, k: string) => `${k}=***`)
    .replace(JSON_PASSWORD, (_m, k: string) => `${k}"***"`);
  for (const s of secrets) {
    if (s && s.length >= 3) out = out.split(s).join('***');
  }
  return out;
}

/** A printable description of a node without its password: `postgres://app:***@db:5432/app`. */
export function describeNode(node: NodeConfig): string {
  if (typeof node === 'string') return redactSecrets(node);
  if (node.connectionString && !node.host) return redactSecrets(node.connectionString);
  const user = node.user ?? '';
  const auth = user ? `${encodeURIComponent(user)}${node.password !== undefined ? ':***' : ''}@` : '';
  return `postgres://${auth}${node.host ?? 'localhost'}:${node.port ?? 5432}/${node.database ?? ''}`;
}

/** Collect the literal passwords of a configuration, for `redactSecrets`. */
export function collectSecrets(nodes: readonly NodeConfig[]): string[] {
  const out: string[] = [];
  for (const n of nodes) {
    if (typeof n === 'string') {
      const p = passwordOfUrl(n);
      if (p) out.push(p);
    } else {
      if (typeof n.password === 'string' && n.password) out.push(n.password);
      if (n.connectionString) {
        const p = passwordOfUrl(n.connectionString);
        if (p) out.push(p);
      }
    }
  }
  return out;
}

function passwordOfUrl(s: string): string | undefined {
  try {
    const u = new URL(s);
    return u.password ? decodeURIComponent(u.password) : undefined;
  } catch {
    return undefined;
  }
}

/** Wrap an error so its message (and its cause chain's messages) carry no secrets. */
export function redactError<E extends Error>(err: E, secrets: readonly string[] = []): E {
  let e: unknown = err;
  for (let i = 0; i < 5 && e instanceof Error; i++) {
    try {
      e.message = redactSecrets(e.message, secrets);
      if (e.stack) e.stack = redactSecrets(e.stack, secrets);
    } catch {
      // frozen message: leave it
    }
    e = (e as { cause?: unknown }).cause;
  }
  return err;
}
