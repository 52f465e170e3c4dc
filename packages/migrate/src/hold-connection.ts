import type { Connection, ConnectionProvider } from '@pg-multiverse/core';

/** A session checked out of a provider until `release()`. */
export interface HeldConnection {
  conn: Connection;
  /** Give it back; with an error the provider discards the session. */
  release(error?: Error): Promise<void>;
}

/** Check a dedicated session out of `provider` and keep it beyond one callback. */
export function holdConnection(provider: ConnectionProvider): Promise<HeldConnection> {
  return new Promise((resolveHold, rejectHold) => {
    let finish!: (error?: Error) => void;
    const finished = new Promise<void>((res, rej) => {
      finish = (e) => (e ? rej(e) : res());
    });
    let held = false;
    const done = provider.withConnection(async (conn) => {
      held = true;
      resolveHold({
        conn,
        release: async (error) => {
          finish(error);
          await done.catch(() => {});
        },
      });
      await finished;
    });
    done.catch((err) => {
      if (!held) rejectHold(err);
    });
  });
}
