import { type NormalizedPartitionMapConfig, PgmError, redactSecrets, type StatementShape } from '@pg-multiverse/core';
import { formatLsn, parseLsn } from '../lsn.js';
import type { Plan } from '../planner.js';
import { UNKNOWN_POSITION } from '../session-token.js';
import type { ClusterRuntime, GroupRuntime } from '../topology.js';
import type { RoutedResult, RouterEvents } from '../types.js';
import { installGuards, partitionPredicate } from './guard.js';
import { Hold, type HoldEngine, type PartitionHold } from './hold.js';
import { createMapListener, type MapListener } from './listener.js';
import { checkMap, mapFromConfig, nextMap, type PartitionMap, partitionsOf, sameOwners } from './map.js';
import { createMapStore, type MapStore, NOT_OWNER_SQLSTATE } from './store.js';

type Run = <R>(p: Plan, params: readonly unknown[] | undefined, shape?: StatementShape) => Promise<RoutedResult<R>>;

export interface HoldPartitionsOptions {
  clusterId: string;
  partitions: readonly number[];
  /** The hold gives up (aborting the move, never the statements) when `commit()` has not started by then. Default 5000 ms. */
  timeoutMs?: number;
  /** The hold gives up when more statements than this wait at once. Default 10000. */
  maxQueued?: number;
}

/** One cluster's map and what routes by it. */
interface MapState {
  c: ClusterRuntime;
  cfg: NormalizedPartitionMapConfig;
  store: MapStore;
  map: PartitionMap;
  configMap: PartitionMap;
  /** The group whose primary stores the map. */
  coordinator: () => GroupRuntime;
  holds: Map<number, Hold>;
  /** Writes and session reads running now, by partition (a hold waits for them). */
  inflight: Map<number, number>;
  drained: Array<() => void>;
  /** Resolved (and replaced) at every switch. */
  changed: { promise: Promise<void>; resolve: () => void };
  reloading?: Promise<PartitionMap> | undefined;
  /** A second read, asked for while `reloading` ran. */
  reloadAgain?: Promise<PartitionMap> | undefined;
}

function signal(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

export interface PartitionMaps {
  start(): Promise<void>;
  close(): Promise<void>;
  /** Route a plan by the map in force (holds, re-route after a not-owner refusal); other plans run as they are. */
  execute<R>(
    p: Plan,
    params: readonly unknown[] | undefined,
    run: Run,
    shape?: StatementShape,
  ): Promise<RoutedResult<R>>;
  current(clusterId: string): PartitionMap;
  reload(clusterId: string): Promise<PartitionMap>;
  hold(o: HoldPartitionsOptions): Promise<PartitionHold>;
  syncOwnership(clusterId: string): Promise<Record<string, number[]>>;
  installGuards(clusterId: string): Promise<Record<string, string[]>>;
  updateStrays(
    clusterId: string,
    shardId: string,
    change: { add?: number[]; remove?: number[] },
  ): Promise<PartitionMap>;
  filter(clusterId: string, shardId: string, column?: string): { partitions: number[]; sql: string } | undefined;
  /** For the router's fan-outs: the shard-key filter of a shard holding strays; undefined without a map or strays. */
  strayFilter(clusterId: string, shardId: string): string | undefined;
  /** A statement on a lent session (a transaction) failed: a not-owner refusal makes the map be read again. */
  noteSessionError(clusterId: string, err: unknown): void;
}

/**
 * The partition maps of the sharded clusters with listed shards: the map in
 * force (seeded from the configuration, stored on the coordinator, followed
 * through LISTEN/NOTIFY and not-owner refusals) and the routing side of a
 * cutover (holds, fences, the compare-and-set commit).
 */
export function createPartitionMaps(ctx: {
  clusters: Map<string, ClusterRuntime>;
  emit: <K extends keyof RouterEvents>(event: K, ...args: RouterEvents[K]) => void;
  secrets: readonly string[];
  /** Schemas a cluster owns (configured and registered). */
  schemasOf: (clusterId: string) => string[];
}): PartitionMaps {
  const states = new Map<string, MapState>();
  const listeners = new Map<string, MapListener>();
  /** Shard primaries (group keys) whose control objects this router created or found. */
  const ensured = new Set<string>();
  let closed = false;

  for (const c of ctx.clusters.values()) {
    const s = c.cfg.sharding;
    if (!s || s.shards.length === 0) continue;
    const configMap = mapFromConfig(c.id, s.partitions, s.shards);
    c.owners = configMap.owners.map((id) => c.groups.find((g) => g.shardId === id)!);
    if (s.partitionMap === false) continue;
    const cfg = s.partitionMap;
    const coordinator = (): GroupRuntime => {
      if (cfg.coordinator === undefined) return c.groups[0]!;
      const other = ctx.clusters.get(cfg.coordinator)!;
      return other.groups[0]!;
    };
    states.set(c.id, {
      c,
      cfg,
      store: createMapStore(cfg.schema),
      map: configMap,
      configMap,
      coordinator,
      holds: new Map(),
      inflight: new Map(),
      drained: [],
      changed: signal(),
    });
  }

  async function ensureShard(st: MapState, g: GroupRuntime): Promise<void> {
    const key = `${g.key}:${st.cfg.schema}`;
    if (ensured.has(key)) return;
    await st.store.ensureShard(g.primaryProvider);
    ensured.add(key);
  }

  function stateOf(clusterId: string): MapState {
    const st = states.get(clusterId);
    if (st) return st;
    const c = ctx.clusters.get(clusterId);
    throw new PgmError(
      c ? 'INVALID_ARGUMENT' : 'UNKNOWN_CLUSTER',
      c
        ? `Cluster "${clusterId}" has no stored partition map: it ${c.cfg.sharding?.shards.length ? 'sets sharding.partitionMap: false' : 'is not sharded over listed shards (sharding.shards)'}`
        : `Unknown cluster "${clusterId}"; known: ${[...ctx.clusters.keys()].join(', ')}`,
      { clusterId },
    );
  }

  function groupOf(st: MapState, shardId: string): GroupRuntime {
    const g = st.c.groups.find((x) => x.shardId === shardId);
    if (!g) {
      throw new PgmError(
        'INVALID_ARGUMENT',
        `Cluster "${st.c.id}" has no shard "${shardId}"; its shards are ${st.c.groups.map((x) => x.shardId).join(', ')}`,
        { clusterId: st.c.id, details: { shardId } },
      );
    }
    return g;
  }

  const redact = (e: unknown): Error => {
    const err = e instanceof Error ? e : new Error(String(e));
    err.message = redactSecrets(err.message, ctx.secrets);
    return err;
  };

  /** Switch to `map` if it is newer than the one in force. */
  function apply(
    st: MapState,
    map: PartitionMap,
    source: 'start' | 'notify' | 'not-owner' | 'commit' | 'reload',
  ): void {
    if (!st.map.fromConfig && map.version <= st.map.version) return;
    const shardIds = st.c.groups.map((g) => g.shardId!);
    try {
      checkMap(map, shardIds, 'The stored partition map', st.configMap.partitions);
    } catch (err) {
      if (source === 'start') throw err;
      ctx.emit('warning', {
        code: 'PARTITION_MAP_INVALID',
        clusterId: st.c.id,
        version: map.version,
        message: `${(err as Error).message} Routing stays on version ${st.map.version}.`,
      });
      return;
    }
    const previous = st.map;
    st.map = map;
    st.c.owners = map.owners.map((id) => groupOf(st, id));
    const moved: number[] = [];
    map.owners.forEach((o, p) => {
      if (previous.owners[p] !== o) moved.push(p);
    });
    const done = st.changed;
    st.changed = signal();
    done.resolve();
    ctx.emit('partitionMapChanged', {
      clusterId: st.c.id,
      version: map.version,
      previousVersion: previous.fromConfig ? undefined : previous.version,
      moved,
      source,
    });
  }

  async function load(st: MapState): Promise<PartitionMap> {
    const stored = await st.store.load(st.coordinator().primaryProvider, st.c.id);
    if (!stored) {
      throw new PgmError(
        'PARTITION_MAP_INVALID',
        `No partition map of cluster "${st.c.id}" is stored on its coordinator (${st.coordinator().key}): was the control table ${st.cfg.schema}.partition_maps dropped? start() seeds it from the configuration.`,
        { clusterId: st.c.id },
      );
    }
    return stored;
  }

  /**
   * Read the stored map and switch if it is newer. A read asked for while one runs is done once more
   * after it (that one may have read before the change announced), shared by every caller meanwhile.
   */
  function reload(st: MapState, source: 'notify' | 'not-owner' | 'reload'): Promise<PartitionMap> {
    if (st.reloading) {
      st.reloadAgain ??= st.reloading
        .catch(() => undefined)
        .then(() => {
          st.reloadAgain = undefined;
          return reload(st, source);
        });
      return st.reloadAgain;
    }
    st.reloading = load(st)
      .then((m) => {
        apply(st, m, source);
        return st.map;
      })
      .finally(() => {
        st.reloading = undefined;
      });
    return st.reloading;
  }

  async function seedOrLoad(st: MapState): Promise<PartitionMap> {
    const coord = st.coordinator().primaryProvider;
    await st.store.ensureCoordinator(coord);
    const stored = await st.store.load(coord, st.c.id);
    if (stored) return stored;
    return coord.withConnection(async (conn) => {
      await st.store.lockSeed(conn, st.c.id);
      try {
        const again = await st.store.load(conn, st.c.id);
        if (again) return again;
        // Ownership first, then the map: a map is never stored whose shards would refuse its writes.
        for (const g of st.c.groups) {
          await ensureShard(st, g);
          await g.primaryProvider.withConnection((c) =>
            st.store.setOwned(c, st.c.id, partitionsOf(st.configMap, g.shardId!), 1),
          );
        }
        return st.store.seed(conn, st.configMap);
      } finally {
        await st.store.unlockSeed(conn, st.c.id).catch(() => undefined);
      }
    });
  }

  function listen(st: MapState): Promise<void> {
    const g = st.coordinator();
    const key = g.key;
    if (listeners.has(key)) return Promise.resolve();
    const l = createMapListener({
      pgConfig: () => g.primary.pgConfig,
      onVersion: (clusterId, version) => {
        const s = states.get(clusterId);
        if (s && s.coordinator().key === key && (s.map.fromConfig || version > s.map.version)) {
          reload(s, 'notify').catch(() => undefined);
        }
      },
      onConnected: () => {
        // Announcements may have been missed while disconnected: read every map stored there again.
        for (const s of states.values()) if (s.coordinator().key === key) reload(s, 'notify').catch(() => undefined);
      },
      onError: (err) => ctx.emit('poolError', { clusterId: g.clusterId, nodeId: g.primary.id, error: redact(err) }),
    });
    listeners.set(key, l);
    return l.start();
  }

  // ---- routing ----

  function isNotOwner(err: unknown): boolean {
    const e = err as { sqlState?: string; code?: string } | undefined;
    return e?.sqlState === NOT_OWNER_SQLSTATE || e?.code === NOT_OWNER_SQLSTATE;
  }

  /** `p` aimed at the owner of `part` in the map in force, with the session position that read-your-writes needs there. */
  function forOwner(st: MapState, p: Plan, part: number): Plan {
    const g = st.c.owners![part]!;
    let lsn = p.sessionLsn;
    const session = p.kind === 'read' && p.consistency === 'session' && p.token !== undefined;
    if (g !== p.g) lsn = session ? p.token!.positions.get(g.key) : undefined;
    if (session && lsn !== UNKNOWN_POSITION) {
      // The partition moved here: a session that wrote on the old owner reads at least the copy's position.
      const mv = st.map.moved[part];
      if (mv?.lsn !== undefined && mv.to === g.shardId && p.token!.positions.has(`${st.c.id}#${mv.from}`)) {
        const floor = parseLsn(mv.lsn);
        if (floor !== undefined && (lsn === undefined || lsn < floor)) lsn = floor;
      }
    }
    if (g === p.g && lsn === p.sessionLsn) return p;
    return Object.create(p, {
      g: { value: g },
      sessionLsn: { value: lsn },
      fresh: { value: undefined, writable: true },
    }) as Plan;
  }

  function track(st: MapState, part: number, delta: number): void {
    const n = (st.inflight.get(part) ?? 0) + delta;
    if (n > 0) st.inflight.set(part, n);
    else {
      st.inflight.delete(part);
      if (st.drained.length > 0) {
        const waiting = st.drained;
        st.drained = [];
        for (const w of waiting) w();
      }
    }
  }

  function route<R>(
    st: MapState,
    p: Plan,
    part: number,
    params: readonly unknown[] | undefined,
    run: Run,
    deadline: number | undefined,
  ): Promise<RoutedResult<R>> {
    const guarded = p.kind === 'write' || p.consistency === 'session';
    if (!guarded) return run<R>(forOwner(st, p, part), params);
    const h = st.holds.get(part);
    if (h) return h.enqueue(() => route<R>(st, p, part, params, run, deadline));
    const plan = forOwner(st, p, part);
    track(st, part, 1);
    return run<R>(plan, params).then(
      (r) => {
        track(st, part, -1);
        return r;
      },
      (err) => {
        track(st, part, -1);
        if (p.kind === 'write' && isNotOwner(err)) {
          return notOwner<R>(st, p, plan.g, part, params, run, deadline ?? Date.now() + st.cfg.rerouteTimeoutMs, err);
        }
        throw err;
      },
    );
  }

  /** A shard refused the write (it does not own the partition): learn the newer map, then route again. */
  async function notOwner<R>(
    st: MapState,
    p: Plan,
    refused: GroupRuntime,
    part: number,
    params: readonly unknown[] | undefined,
    run: Run,
    deadline: number,
    err: unknown,
  ): Promise<RoutedResult<R>> {
    const before = st.map.version;
    for (;;) {
      const waitFor = st.changed.promise;
      await reload(st, 'not-owner').catch(() => undefined);
      if (st.map.version !== before || st.c.owners![part] !== refused || st.holds.has(part)) {
        return route<R>(st, p, part, params, run, deadline);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new PgmError(
          'PARTITION_NOT_OWNED',
          `Shard ${refused.shardId} of cluster "${st.c.id}" refused a write to partition ${part}: it does not own it, and no newer partition map (in force: version ${st.map.version}) named another owner within rerouteTimeoutMs (${st.cfg.rerouteTimeoutMs} ms). A move may have stopped between its fence and its commit: finish or roll it back (router.syncPartitionOwnership makes the shards agree with the stored map).`,
          {
            clusterId: st.c.id,
            cause: err,
            details: { partition: part, shardId: refused.shardId, version: st.map.version },
          },
        );
      }
      // Wait for an announcement or a moment (the announcement may be lost with a LISTEN connection, or
      // the owner is being granted the partition right now), then route again.
      await Promise.race([waitFor, new Promise((r) => setTimeout(r, Math.min(left, 100)).unref?.())]);
      if (st.map.version === before && st.c.owners![part] === refused) {
        return route<R>(st, p, part, params, run, deadline);
      }
    }
  }

  // ---- the cutover ----

  function engineFor(st: MapState): HoldEngine {
    return {
      async fence(partitions) {
        await installAll(st, true);
        const bySource = new Map<GroupRuntime, number[]>();
        for (const p of partitions) {
          const g = st.c.owners![p]!;
          bySource.set(g, [...(bySource.get(g) ?? []), p]);
        }
        const positions: Record<string, string> = {};
        await Promise.all(
          [...bySource].map(async ([g, ps]) => {
            positions[g.shardId!] = await st.store.revoke(g.primaryProvider, st.c.id, ps);
          }),
        );
        return positions;
      },
      async unfence(partitions) {
        // The stored map is the truth (a commit whose answer was lost may have gone through).
        const map = await reload(st, 'reload').catch(() => st.map);
        const byOwner = new Map<GroupRuntime, number[]>();
        for (const p of partitions) {
          const g = st.c.owners![p]!;
          byOwner.set(g, [...(byOwner.get(g) ?? []), p]);
        }
        await Promise.all([...byOwner].map(([g, ps]) => st.store.grant(g.primaryProvider, st.c.id, ps, map.version)));
      },
      async commit(expected, owners) {
        const map = st.map;
        const next = [...map.owners];
        const moved = { ...map.moved };
        const strays: Record<string, number[]> = {};
        for (const [k, v] of Object.entries(map.strays)) strays[k] = [...v];
        const targets = new Map<GroupRuntime, number[]>();
        for (const [k, to] of Object.entries(owners)) {
          const p = Number(k);
          const g = groupOf(st, to);
          const from = map.owners[p]!;
          if (from === to) continue;
          next[p] = to;
          targets.set(g, [...(targets.get(g) ?? []), p]);
          moved[p] = { from, to, version: expected + 1 };
          strays[from] = [...new Set([...(strays[from] ?? []), p])].sort((a, b) => a - b);
          strays[to] = (strays[to] ?? []).filter((x) => x !== p);
        }
        for (const [k, v] of Object.entries(strays)) if (v.length === 0) delete strays[k];
        // Every row copied to a target is at or before its position now: the floor for read-your-writes.
        // The insert position, not pg_current_wal_lsn(): that is the write position, which can be behind a
        // commit not yet written out (synchronous_commit off), so a replica short of the copy looked caught up.
        await Promise.all(
          [...targets].map(async ([g, ps]) => {
            const r = await g.primaryProvider.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l');
            const lsn = formatLsn(parseLsn(r.rows[0]!.l)!);
            for (const p of ps) moved[p] = { ...moved[p]!, lsn };
          }),
        );
        const candidate = nextMap(map, { version: expected + 1, owners: next, moved, strays });
        checkMap(
          candidate,
          st.c.groups.map((g) => g.shardId!),
          'The new partition map',
        );
        if (map.version !== expected) throw conflict(st, expected, map.version);
        // The new owners take writes first: nothing routes there before a map names them, and the old
        // owners stay fenced, so at no moment do two servers accept writes that are routed to them.
        const revokeTargets = () =>
          Promise.allSettled(
            [...targets].map(([g, ps]) =>
              ensureShard(st, g).then(() => st.store.revoke(g.primaryProvider, st.c.id, ps)),
            ),
          );
        try {
          for (const [g, ps] of targets) {
            await ensureShard(st, g);
            await st.store.grant(g.primaryProvider, st.c.id, ps, candidate.version);
          }
        } catch (err) {
          await revokeTargets();
          throw err;
        }
        let ok: boolean;
        try {
          ok = await st.store.commit(st.coordinator().primaryProvider, expected, candidate);
        } catch (err) {
          // The answer was lost: the stored map says whether it went through.
          const stored = await load(st).catch(() => undefined);
          if (stored === undefined) {
            // Unknown: every server stays fenced for these partitions (never two owners) until recovery.
            await revokeTargets();
            throw new PgmError(
              'MOVE_ABORTED',
              `The commit of partition map version ${candidate.version} of cluster "${st.c.id}" has an unknown outcome (the coordinator did not answer): no server takes writes for partitions ${[...targets.values()].flat().join(', ')} until router.syncPartitionOwnership("${st.c.id}") runs once the coordinator answers.`,
              { clusterId: st.c.id, cause: err, details: { uncertain: true, version: candidate.version } },
            );
          }
          ok = stored.version === candidate.version && sameOwners(stored, candidate);
          if (!ok) {
            await revokeTargets();
            throw err;
          }
        }
        if (!ok) {
          await revokeTargets();
          const stored = await reload(st, 'reload').catch(() => st.map);
          throw conflict(st, expected, stored.version);
        }
        apply(st, candidate, 'commit');
        return st.map;
      },
      finish(hold, outcome) {
        for (const p of hold.partitions) if (st.holds.get(p) === hold) st.holds.delete(p);
        const queued = hold.drainQueue();
        ctx.emit('partitionsReleased', {
          clusterId: st.c.id,
          partitions: [...hold.partitions],
          outcome,
          heldMs: performance.now() - hold.startedAt,
          queued: queued.length,
          maxQueued: hold.maxQueuedSeen,
          version: st.map.version,
        });
        for (const q of queued) q();
      },
    };
  }

  function conflict(st: MapState, expected: number, found: number): PgmError {
    return new PgmError(
      'PARTITION_MAP_CONFLICT',
      `The partition map of cluster "${st.c.id}" is at version ${found}, not ${expected}: another change was committed first. Nothing was changed by this one; plan again from the map in force.`,
      { clusterId: st.c.id, details: { expected, found } },
    );
  }

  /** The server computes PostgreSQL's hash partition; a custom shard function it cannot. */
  function refuseCustomFunction(st: MapState, what: string): void {
    if (st.c.cfg.sharding?.shardFunction === undefined) return;
    throw new PgmError(
      'INVALID_ARGUMENT',
      `${what}: cluster "${st.c.id}" uses a custom shardFunction, which the shards cannot compute, so they cannot refuse writes for partitions they do not own; partitions of such a cluster cannot be moved online`,
      { clusterId: st.c.id },
    );
  }

  async function installAll(st: MapState, onlyMissing = false): Promise<Record<string, string[]>> {
    refuseCustomFunction(st, 'installPartitionGuards');
    const s = st.c.cfg.sharding!;
    const out: Record<string, string[]> = {};
    await Promise.all(
      st.c.groups.map(async (g) => {
        await ensureShard(st, g);
        out[g.shardId!] = await installGuards(g.primaryProvider, {
          schema: st.cfg.schema,
          clusterId: st.c.id,
          key: s.key,
          keyType: s.keyType,
          modulus: s.partitions,
          schemas: ctx.schemasOf(st.c.id),
          onlyMissing,
        });
      }),
    );
    return out;
  }

  function waitDrained(st: MapState, parts: readonly number[], signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (signal.aborted) reject(signal.reason);
        else if (parts.some((p) => st.inflight.has(p))) st.drained.push(check);
        else resolve();
      };
      check();
    });
  }

  return {
    async start() {
      await Promise.all(
        [...states.values()].map(async (st) => {
          const stored = await seedOrLoad(st);
          checkMap(
            stored,
            st.c.groups.map((g) => g.shardId!),
            'The stored partition map',
            st.configMap.partitions,
          );
          if (!sameOwners(stored, st.configMap)) {
            const differ = stored.owners.flatMap((o, p) => (st.configMap.owners[p] === o ? [] : [p]));
            ctx.emit('warning', {
              code: 'PARTITION_MAP_DIFFERS',
              clusterId: st.c.id,
              version: stored.version,
              message: `The stored partition map of cluster "${st.c.id}" (version ${stored.version}) differs from the configuration for partitions ${differ.join(', ')}: routing by the stored map (it is the one every instance follows). Update sharding.shards[].partitions to match it to silence this.`,
              partitions: differ,
            });
          }
          apply(st, stored, 'start');
          await listen(st);
        }),
      );
    },
    async close() {
      closed = true;
      // Holds end with the router: fences lifted, held statements released (they fail with CLOSED).
      const holds = new Set([...states.values()].flatMap((st) => [...st.holds.values()]));
      await Promise.allSettled([...holds].map((h) => h.release()));
      await Promise.all([...listeners.values()].map((l) => l.close()));
      listeners.clear();
    },
    execute<R>(
      p: Plan,
      params: readonly unknown[] | undefined,
      run: Run,
      shape?: StatementShape,
    ): Promise<RoutedResult<R>> {
      const part = p.partition;
      // Most plans pass straight through: no closure per statement for the shape.
      if (part === undefined) return run<R>(p, params, shape);
      const st = states.get(p.cluster.id);
      if (st === undefined) return run<R>(p, params, shape);
      return route<R>(st, p, part, params, shape ? (q, ps) => run(q, ps, shape) : run, undefined);
    },
    current(clusterId) {
      const st = states.get(clusterId);
      if (st) return st.map;
      const c = ctx.clusters.get(clusterId);
      const s = c?.cfg.sharding;
      if (c && s && s.shards.length > 0) return mapFromConfig(c.id, s.partitions, s.shards);
      return stateOf(clusterId).map;
    },
    reload: (clusterId) => reload(stateOf(clusterId), 'reload'),
    async hold(o) {
      if (closed) throw new PgmError('CLOSED', 'The router is closed');
      const st = stateOf(o.clusterId);
      refuseCustomFunction(st, 'holdPartitions');
      const parts = [...new Set(o.partitions)].sort((a, b) => a - b);
      const bad = parts.filter((p) => !Number.isInteger(p) || p < 0 || p >= st.map.partitions);
      if (parts.length === 0 || bad.length > 0) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          `holdPartitions: partitions must be a non-empty list of integers in [0, ${st.map.partitions})${bad.length ? `; got ${bad.join(', ')}` : ''}`,
          { clusterId: st.c.id },
        );
      }
      const busy = parts.filter((p) => st.holds.has(p));
      if (busy.length > 0) {
        throw new PgmError('INVALID_ARGUMENT', `holdPartitions: partitions ${busy.join(', ')} are held already`, {
          clusterId: st.c.id,
        });
      }
      const timeoutMs = o.timeoutMs ?? 5000;
      const maxQueued = o.maxQueued ?? 10_000;
      if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
        throw new PgmError('INVALID_ARGUMENT', `holdPartitions: timeoutMs must be a positive number, got ${timeoutMs}`);
      }
      if (!Number.isInteger(maxQueued) || maxQueued < 0) {
        throw new PgmError(
          'INVALID_ARGUMENT',
          `holdPartitions: maxQueued must be a non-negative integer, got ${maxQueued}`,
        );
      }
      const hold = new Hold(st.c.id, parts, st.map.version, engineFor(st), { timeoutMs, maxQueued });
      for (const p of parts) st.holds.set(p, hold);
      // Statements already sent to these partitions finish first (they are part of what the copy must see).
      await waitDrained(st, parts, hold.signal);
      return hold;
    },
    async syncOwnership(clusterId) {
      const st = stateOf(clusterId);
      const map = await reload(st, 'reload');
      const out: Record<string, number[]> = {};
      for (const g of st.c.groups) {
        await ensureShard(st, g);
        const ps = partitionsOf(map, g.shardId!);
        await g.primaryProvider.withConnection((c) => st.store.setOwned(c, st.c.id, ps, map.version));
        out[g.shardId!] = ps;
      }
      return out;
    },
    installGuards: (clusterId) => installAll(stateOf(clusterId)),
    async updateStrays(clusterId, shardId, change) {
      const st = stateOf(clusterId);
      groupOf(st, shardId);
      for (let attempt = 0; ; attempt++) {
        const map = await reload(st, 'reload');
        const set = new Set(map.strays[shardId] ?? []);
        for (const p of change.add ?? []) set.add(p);
        for (const p of change.remove ?? []) set.delete(p);
        const strays: Record<string, readonly number[]> = { ...map.strays, [shardId]: [...set].sort((a, b) => a - b) };
        if (set.size === 0) delete strays[shardId];
        const next = nextMap(map, { version: map.version + 1, strays });
        if (await st.store.commit(st.coordinator().primaryProvider, map.version, next)) {
          apply(st, next, 'commit');
          return st.map;
        }
        if (attempt >= 5) throw conflict(st, map.version, (await reload(st, 'reload')).version);
      }
    },
    noteSessionError(clusterId, err) {
      const st = states.get(clusterId);
      if (st && isNotOwner(err)) reload(st, 'not-owner').catch(() => undefined);
    },
    strayFilter(clusterId, shardId) {
      const st = states.get(clusterId);
      if (!st?.map.strays[shardId]?.length) return undefined;
      return this.filter(clusterId, shardId)?.sql;
    },
    filter(clusterId, shardId, column) {
      const st = stateOf(clusterId);
      groupOf(st, shardId);
      if (!st.map.strays[shardId]?.length) return undefined;
      const owned = partitionsOf(st.map, shardId);
      const s = st.c.cfg.sharding!;
      return {
        partitions: owned,
        sql: partitionPredicate(st.cfg.schema, column ?? s.key, s.keyType, s.partitions, owned),
      };
    },
  };
}
