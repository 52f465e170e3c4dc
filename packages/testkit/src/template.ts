import { createHash } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PgBinaries } from './binaries.js';
import { TestkitError } from './errors.js';
import { runAsServerUser, serverUser } from './run-as.js';
import { BASE_SETTINGS, DEFAULT_PASSWORD, HBA, PASSWORD_ROLE, settingsText } from './settings.js';
import { baseTmpDir } from './tmp-base.js';

const TEMPLATE_FORMAT = 2;
const inFlight = new Map<string, Promise<string>>();

/** Makes a directory in `baseTmpDir()` owned by the server user. */
export function makeServerOwnedTempDir(prefix: string): string {
  const dir = mkdtempSync(join(baseTmpDir(), prefix));
  const u = serverUser();
  if (u.dropped) chownSync(dir, u.uid, u.gid);
  return dir;
}

/**
 * A freshly initdb'ed data directory with the testkit's settings, built once
 * per PostgreSQL build and settings and cached in `baseTmpDir()` (shared by
 * every process of a run, and by later runs). Returns its path; copy it, never
 * start it.
 */
export function ensureTemplate(bins: PgBinaries): Promise<string> {
  // Keyed by what the binaries are (version, size and mtime of `postgres`), not where: the same build
  // found in another checkout, or copied for the server user, shares the template.
  const postgres = statSync(join(bins.serverBinDir, 'postgres'));
  const key = createHash('sha256')
    .update(
      `${TEMPLATE_FORMAT}\n${bins.version}\n${postgres.size}\n${Math.trunc(postgres.mtimeMs)}\n${settingsText(BASE_SETTINGS)}\n${HBA}\n${serverUser().uid}`,
    )
    .digest('hex')
    .slice(0, 16);
  const final = join(baseTmpDir(), `pgm-testkit-template-${key}`);
  const pending = inFlight.get(final);
  if (pending) return pending;
  const p = existsSync(join(final, 'data', 'PG_VERSION')) ? Promise.resolve(final) : buildTemplate(bins, final);
  inFlight.set(final, p);
  p.catch(() => inFlight.delete(final));
  return p;
}

async function buildTemplate(bins: PgBinaries, final: string): Promise<string> {
  const staging = makeServerOwnedTempDir('pgm-testkit-template-build-');
  const data = join(staging, 'data');
  try {
    await runAsServerUser(
      join(bins.serverBinDir, 'initdb'),
      [
        '-D',
        data,
        '-U',
        'postgres',
        '-A',
        'trust',
        '-E',
        'UTF8',
        '--locale=C',
        '--no-sync',
        '--no-instructions',
        '--wal-segsize=1',
      ],
      { cwd: staging },
    );
    await appendFile(
      join(data, 'postgresql.conf'),
      `\n# pg-multiverse testkit\n${settingsText(BASE_SETTINGS)}include_if_exists = 'node.conf'\n`,
    );
    writeFileSync(join(data, 'pg_hba.conf'), HBA);
    // The password-protected role, created once here in single-user mode (no port, no socket).
    await runAsServerUser(join(bins.serverBinDir, 'postgres'), ['--single', '-D', data, 'postgres'], {
      cwd: staging,
      input: `CREATE ROLE ${PASSWORD_ROLE} LOGIN SUPERUSER PASSWORD '${DEFAULT_PASSWORD}';\n`,
    });
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err instanceof TestkitError
      ? err
      : new TestkitError('cannot build the template data directory', { cause: err });
  }
  try {
    renameSync(staging, final);
  } catch {
    // Another process won the race; use its template.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(final, 'data', 'PG_VERSION'))) {
      throw new TestkitError(`template directory ${final} exists but is incomplete; remove it`);
    }
  }
  return final;
}
