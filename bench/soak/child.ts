// A coordinator process for the soak: a PgMultiverse of its own running transfers one
// after another, the way the soak's workers do. After `armAfter` transfers it stops at the
// point named by `plan` (mid-commit), prints "PAUSED <transfer id>" and waits to be SIGKILLed.
//
// The stop is made at the pg level, not with the tx package's test hooks: the primaries'
// pools are handed to PgMultiverse through its documented `providers` option and their
// clients hold back one protocol statement. The database is real; nothing is mocked.
//
// stdout, one line each: READY | START <id> | OK <id> | ERR <id> <code> | PAUSED <id> <plan> | UNHANDLED <text>
import pg from 'pg';
import { PgMultiverse } from 'pg-multiverse';
import {
  type ChildSpec,
  CLUSTER_A,
  CLUSTER_B,
  errorCode,
  LEDGER_A,
  LEDGER_B,
  MOVE_SQL,
  rng,
  TX_TIMEOUT_MS,
} from './shared.js';

const spec = JSON.parse(process.env.PGM_SOAK_CHILD ?? '{}') as ChildSpec;
const say = (line: string) => process.stdout.write(`${line}\n`);

process.on('unhandledRejection', (reason) =>
  say(`UNHANDLED ${String((reason as Error)?.message ?? reason).replace(/\s+/g, ' ')}`),
);

let armed = false;
let current = '';
const announce = () => {
  if (!armed) return;
  armed = false;
  say(`PAUSED ${current} ${spec.plan}`);
};

type Action = 'stall-before' | 'stall-after' | 'announce-after';
function actionFor(cluster: string, text: string): Action | undefined {
  if (!armed) return undefined;
  switch (spec.plan) {
    case 'after-prepare':
      return cluster === CLUSTER_B && text.startsWith('PREPARE TRANSACTION') ? 'stall-after' : undefined;
    case 'after-decision':
      return cluster === CLUSTER_A && /^\s*INSERT INTO/.test(text) && /RETURNING decision/.test(text)
        ? 'stall-after'
        : undefined;
    case 'between-commits':
      if (!text.startsWith('COMMIT PREPARED')) return undefined;
      return cluster === CLUSTER_B ? 'stall-before' : 'announce-after';
  }
}

const never = () => new Promise<never>(() => undefined);

/** A pg.Client that holds back the armed protocol statement of `cluster` (before or after it ran). */
function holdingClient(cluster: string): typeof pg.Client {
  return class HoldingClient extends pg.Client {
    override query(...args: any[]): any {
      const first = args[0] as unknown;
      const text =
        typeof first === 'string'
          ? first
          : typeof (first as { text?: unknown })?.text === 'string'
            ? (first as { text: string }).text
            : '';
      const action = actionFor(cluster, text);
      const run = (super.query as (...a: any[]) => any).bind(this);
      if (!action) return run(...args);
      const cb =
        typeof args[args.length - 1] === 'function' ? (args[args.length - 1] as (...a: any[]) => void) : undefined;
      if (action === 'stall-before') {
        announce();
        return cb ? undefined : never();
      }
      const after = (err: unknown) => {
        if (err) return false;
        announce();
        return action === 'announce-after';
      };
      if (cb) {
        return run(...args.slice(0, -1), (err: unknown, res: unknown) => {
          if (after(err) || err) cb(err, res);
        });
      }
      return (run(...args) as Promise<unknown>).then((res) => (after(undefined) ? res : never()));
    }
  } as typeof pg.Client;
}

const primaryPool = (cluster: string) =>
  new pg.Pool({
    ...spec.config[cluster]!.primary,
    max: 4,
    connectionTimeoutMillis: 3000,
    Client: holdingClient(cluster),
  });

const pgm = new PgMultiverse({
  enableMetrics: false,
  cluster: { healthCheckInterval: 1000, healthCheckTimeout: 1000 },
  transactions: { recoveryIntervalMs: 0, safeAgeMs: spec.safeAgeMs },
  providers: { [`${CLUSTER_A}/primary`]: primaryPool(CLUSTER_A), [`${CLUSTER_B}/primary`]: primaryPool(CLUSTER_B) },
});
try {
  await pgm.initialize(spec.config);
} catch (err) {
  say(`FAILED ${errorCode(err)}: ${String((err as Error)?.message ?? err).replace(/\s+/g, ' ')}`);
  process.exit(2);
}
say('READY');
const r = rng(spec.seed);
for (let n = 0; ; n++) {
  current = `${spec.prefix}-${n}`;
  const a = r.int(1, spec.accounts);
  const b = r.int(1, spec.accounts);
  const amount = r.int(1, 100) * (r.chance(0.5) ? 1 : -1);
  armed = n >= spec.armAfter;
  say(`START ${current}`);
  try {
    await pgm.withTransaction(
      [LEDGER_A, LEDGER_B],
      async (tx) => {
        await tx.query(MOVE_SQL, [a, amount, current], { schema: LEDGER_A });
        await tx.query(MOVE_SQL, [b, -amount, current], { schema: LEDGER_B });
      },
      { timeoutMs: TX_TIMEOUT_MS },
    );
    say(`OK ${current}`);
  } catch (err) {
    say(`ERR ${current} ${errorCode(err)}`);
  }
}
