import { ConfigError, type ConfigIssue } from '@pg-multiverse/core';

const PATTERN = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replace `${VAR}` (and `${VAR:-fallback}`) in every string of `value`,
 * recursively through plain objects and arrays, from `env`. `$${` stays a
 * literal `${`. Functions and class instances are left alone. An unset
 * variable without fallback is a `ConfigError` naming it and where it is used.
 */
export function expandEnv<T>(value: T, env: Record<string, string | undefined>): T {
  const issues: ConfigIssue[] = [];
  const out = walk(value, '', env, issues);
  if (issues.length) throw new ConfigError(issues);
  return out as T;
}

function walk(value: unknown, path: string, env: Record<string, string | undefined>, issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') return expandString(value, path, env, issues);
  if (Array.isArray(value)) return value.map((v, i) => walk(v, `${path}[${i}]`, env, issues));
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, path ? `${path}.${k}` : k, env, issues);
    return out;
  }
  return value;
}

function expandString(s: string, path: string, env: Record<string, string | undefined>, issues: ConfigIssue[]): string {
  return s.replace(PATTERN, (match, name: string | undefined, fallback: string | undefined) => {
    if (name === undefined) return '${';
    const v = env[name];
    if (v !== undefined && v !== '') return v;
    if (fallback !== undefined) return fallback;
    if (v === '') return v;
    issues.push({ path: path || '(root)', message: `environment variable ${name} is not set (used as ${match})` });
    return match;
  });
}
