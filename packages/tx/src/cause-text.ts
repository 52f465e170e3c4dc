import { redactSecrets } from '@pg-multiverse/core';

const MAX_CAUSE_CHARS = 500;

function one(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const errors = (err as { errors?: unknown }).errors;
  // Node's connect to a name with several addresses fails with an AggregateError whose message may be empty.
  if (err.message === '' && Array.isArray(errors) && errors.length > 0) {
    return [...new Set(errors.map(one))].join('; ');
  }
  const message = err.message || err.name;
  // "connect ECONNREFUSED 127.0.0.1:5432" names its code; a server error ("password authentication failed ...") does not.
  return typeof code === 'string' && code !== '' && !message.includes(code) ? `${message} [${code}]` : message;
}

/**
 * One line saying why a connection could not be had: the error's message with
 * its system code or SQLSTATE (`connect ECONNREFUSED 127.0.0.1:5433`,
 * `password authentication failed for user "app" [28P01]`, the router's
 * `The primary of cluster "c" (primary) is down: ...`), secrets removed.
 */
export function causeText(err: unknown): string {
  const text = redactSecrets(one(err)).replace(/\s+/g, ' ').trim();
  return text.length > MAX_CAUSE_CHARS ? `${text.slice(0, MAX_CAUSE_CHARS)}...` : text || 'unknown error';
}
