// What a server's log says about a failed start, and how much of it an error may show.
import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** The server's log says its port (or the socket's lock file for that port) was taken. */
export function portTakenIn(log: string): boolean {
  return /could not bind IPv[46] address|Address already in use|could not create any TCP\/IP sockets|lock file "[^"]*\.s\.PGSQL\.\d+\.lock" already exists/.test(
    log,
  );
}

/** The server's log says its start cannot succeed by retrying (a configuration or data directory error). */
export function hopelessIn(log: string): boolean {
  return /unrecognized configuration parameter|invalid value for parameter|configuration file .* contains errors|is not a valid data directory|database files are incompatible/.test(
    log,
  );
}

/** Passwords out of a log excerpt (an ALTER ROLE ... PASSWORD that failed is logged with its text). */
export function redactLog(text: string): string {
  return text
    .replace(/(PASSWORD\s+)('(?:[^']|'')*'|\S+)/gi, '$1[redacted]')
    .replace(/(password\s*[=:]\s*)('(?:[^']|'')*'|\S+)/gi, '$1[redacted]')
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/gi, '$1[redacted]@');
}

/** What a log file got from `from` on (the last `max` characters of it). */
export function readLogFrom(file: string, from: number, max = 3000): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(from, size - max);
    if (size <= start) return '';
    const buf = Buffer.alloc(size - start);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buf, 0, buf.length, start);
    } finally {
      closeSync(fd);
    }
    return buf.toString('utf8');
  } catch {
    return '';
  }
}

export const logSize = (file: string): number => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};
