// Packs every publishable package, installs the tarballs into an empty project
// outside the workspace, and imports each one there (ESM and CJS) with a smoke
// call. Also runs publint on each package. Exit code 0 when all pass.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs = readdirSync(join(root, 'packages'));
const work = mkdtempSync(join(tmpdir(), 'pgm-pack-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);

// One smoke call per package: something that exercises code, not just the import.
const smoke = {
  '@pg-multiverse/core': (m) => `${m}.quoteIdent('a"b') === '"a""b"'`,
  '@pg-multiverse/balancer': (m) =>
    `typeof ${m}.roundRobin().pick === 'function' && ${m}.roundRobin().pick([]) === undefined`,
  '@pg-multiverse/cache': (m) => `typeof ${m}.createMemoryStore({ maxSize: 10 }).get === 'function'`,
  '@pg-multiverse/router': (m) =>
    `${m}.classifySql('SELECT 1') === 'read' && ${m}.classifySql('DELETE FROM t') === 'write'`,
  '@pg-multiverse/tx': (m) => `typeof ${m}.createTransactionManager === 'function'`,
  '@pg-multiverse/migrate': (m) => `typeof ${m}.MigrationManager === 'function'`,
  '@pg-multiverse/cli': (m) => `typeof ${m}.run === 'function'`,
  '@pg-multiverse/testkit': (m) => `typeof ${m}.startTopology === 'function'`,
  'pg-multiverse': (m) => `typeof new ${m}.PgMultiverse().query === 'function'`,
};

try {
  const names = [];
  for (const d of dirs) {
    const dir = join(root, 'packages', d);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (pkg.private) continue;
    names.push(pkg.name);
    execFileSync('pnpm', ['pack', '--pack-destination', tarballs], { cwd: dir, stdio: 'pipe' });
    execFileSync(process.execPath, [join(root, 'node_modules/publint/src/cli.js'), '--strict', dir], {
      stdio: 'inherit',
    });
  }
  const app = join(work, 'app');
  mkdirSync(app);
  const deps = Object.fromEntries(
    readdirSync(tarballs).map((f) => {
      const name = names.find((n) => new RegExp(`^${n.replace('@', '').replace('/', '-')}-\\d`).test(f));
      return [name, `file:${join(tarballs, f)}`];
    }),
  );
  // Workspace ranges inside the tarballs point at the same versions: make npm take ours, not the registry's.
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, dependencies: { ...deps, pg: '^8.16.0' }, overrides: deps }, null, 2),
  );
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--omit=optional'], {
    cwd: app,
    stdio: 'inherit',
  });
  for (const name of names) {
    const check = smoke[name] ?? (() => 'true');
    writeFileSync(
      join(app, 'esm.mjs'),
      `import * as m from '${name}';\nif (!(${check('m')})) { console.error('ESM smoke failed: ${name}'); process.exit(1); }\n`,
    );
    writeFileSync(
      join(app, 'cjs.cjs'),
      `const m = require('${name}');\nif (!(${check('m')})) { console.error('CJS smoke failed: ${name}'); process.exit(1); }\n`,
    );
    execFileSync(process.execPath, ['esm.mjs'], { cwd: app, stdio: 'inherit' });
    execFileSync(process.execPath, ['cjs.cjs'], { cwd: app, stdio: 'inherit' });
    console.log(`ok ${name} (ESM + CJS)`);
  }
  // @opentelemetry/api is an optional peer: not installed here, so tracing is a no-op, and only an
  // explicit `tracing: true` is refused (before any connection is tried).
  writeFileSync(
    join(app, 'optional-peer.mjs'),
    [
      "import { createRequire } from 'node:module';",
      "import { PgMultiverse } from 'pg-multiverse';",
      'const require = createRequire(import.meta.url);',
      'let present = true;',
      "try { require.resolve('@opentelemetry/api'); } catch { present = false; }",
      "if (present) { console.error('@opentelemetry/api was installed: the optional peer check proves nothing'); process.exit(1); }",
      "const url = 'postgres://nobody@127.0.0.1:1/none';",
      "const on = await new PgMultiverse({ tracing: true }).initialize(url).then(() => 'ok', (e) => e.code);",
      "const off = await new PgMultiverse().initialize(url).then(() => 'ok', (e) => e.code);",
      "if (on !== 'TRACING_UNAVAILABLE' || off !== 'CONNECTION_FAILED') { console.error('optional peer:', on, off); process.exit(1); }",
      "console.log('ok pg-multiverse without @opentelemetry/api (tracing off, tracing: true refused)');",
      '',
    ].join('\n'),
  );
  // Without NODE_PATH: pnpm sets it to the workspace's hoisted packages, where the peer is found.
  const { NODE_PATH: _nodePath, ...env } = process.env;
  execFileSync(process.execPath, ['optional-peer.mjs'], { cwd: app, stdio: 'inherit', env });
  execFileSync(join(app, 'node_modules/.bin/pgm'), ['--version'], { cwd: app, stdio: 'inherit' });
} finally {
  rmSync(work, { recursive: true, force: true });
}
