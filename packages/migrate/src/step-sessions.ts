import type { ConnectionProvider } from '@pg-multiverse/core';
import { type HeldConnection, holdConnection } from './hold-connection.js';

/** How long a checkout may wait before the idle sessions of other locations go back to their pools. */
const STARVED_AFTER_MS = 50;

/**
 * The sessions a run's steps use, kept from one step to the next: a step takes
 * an idle session of its location (cluster or shard primary) or checks a new
 * one out, and gives it back when it committed, so a location's steps cost one
 * checkout (and one session reset) per run instead of one per step. A location
 * never holds more sessions than it ran steps at once. A session a step failed
 * on, or a `transaction: false` step ran on, goes back to its provider instead
 * (discarded after a failure). `close()` returns every idle session.
 *
 * Kept sessions never starve a step of a session its pool cannot lend: a
 * session given back while a step waits goes to that step (same location) or
 * back to its pool (another location: locations may share a pool); a checkout
 * still waiting after a moment sends the idle sessions of the other locations
 * back to their pools.
 */
export interface StepSessions {
  /**
   * An idle session of `location`, or a new one from `provider` (or one given
   * back meanwhile, whichever comes first). `reused`: it served a step before
   * (it may have died while idle).
   */
  take(location: string, provider: ConnectionProvider): Promise<KeptSession>;
  /** Keep a session for the next step of `location` (hands it to a waiting step first). */
  give(location: string, session: HeldConnection): void;
  /** Return every idle session to its provider; sessions given back later are returned at once. */
  close(): Promise<void>;
}

export interface KeptSession extends HeldConnection {
  reused?: boolean;
}

export function createStepSessions(): StepSessions {
  const idle = new Map<string, HeldConnection[]>();
  const waiting = new Map<string, Array<(s: HeldConnection) => boolean>>();
  let waiters = 0;
  let closed = false;

  const give = (location: string, session: HeldConnection): void => {
    if (closed) {
      void session.release();
      return;
    }
    const queue = waiting.get(location);
    while (queue && queue.length > 0) if (queue.shift()!(session)) return;
    // Another location waits for a session: this one may be what its pool lacks.
    if (waiters > 0) {
      void session.release();
      return;
    }
    const list = idle.get(location);
    if (list) list.push(session);
    else idle.set(location, [session]);
  };

  const releaseIdleExcept = (location: string): void => {
    for (const [loc, list] of idle) {
      if (loc === location) continue;
      idle.delete(loc);
      for (const s of list) void s.release();
    }
  };

  return {
    take(location, provider) {
      const ready = idle.get(location)?.pop();
      if (ready) return Promise.resolve({ ...ready, reused: true });
      return new Promise<KeptSession>((resolve, reject) => {
        let settled = false;
        // A session given back while this checkout waits on the pool (pool max reached) is taken instead.
        const waiter = (s: HeldConnection) => {
          if (settled) return false;
          settled = true;
          leave();
          resolve({ ...s, reused: true });
          return true;
        };
        const queue = waiting.get(location) ?? [];
        waiting.set(location, queue);
        queue.push(waiter);
        waiters++;
        const starved = setTimeout(() => releaseIdleExcept(location), STARVED_AFTER_MS);
        let left = false;
        function leave() {
          if (left) return;
          left = true;
          waiters--;
          clearTimeout(starved);
          const i = queue.indexOf(waiter);
          if (i >= 0) queue.splice(i, 1);
        }
        holdConnection(provider).then(
          (s) => {
            leave();
            if (settled) give(location, s);
            else {
              settled = true;
              resolve(s);
            }
          },
          (err: unknown) => {
            leave();
            if (!settled) {
              settled = true;
              reject(err);
            }
          },
        );
      });
    },
    give,
    async close() {
      closed = true;
      const all = [...idle.values()].flat();
      idle.clear();
      await Promise.all(all.map((s) => s.release()));
    },
  };
}
