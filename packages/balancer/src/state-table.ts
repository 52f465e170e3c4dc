import type { NodeState, PickContext } from '@pg-multiverse/core';

/**
 * What a balancer remembers about one node of one cluster. One shape for every
 * strategy (keeps property access monomorphic); each strategy uses its fields.
 */
export interface NodeSlot {
  readonly id: string;
  /** Weight from the balancer's `weights` option, -1 when none applies. */
  readonly weightOverride: number;
  /** Smooth weighted round robin: current weight. */
  current: number;
  /** Effective latency at the pick in progress (see `refreshEffective`). */
  eff: number;
  /** Latency decay factor, the sample time it is for, and when it was computed. */
  decay: number;
  decayFor: number;
  decayAt: number;
  /** Health aware: the node's score at the last scoring. */
  score: number;
  /** Weight for the smooth pick in progress (set by the caller before `smoothPick`). */
  share: number;
}

/** Per-cluster state: a rotation counter and the node slots. */
export interface ClusterState {
  /** Rotation counter (round robin, tie-breaking). Always < the last candidate count. */
  rr: number;
  readonly byId: Map<string, NodeSlot>;
  /** Bumped whenever `slots` is rebuilt for a new candidate list. */
  version: number;
  /** Health aware: `version` and time of the last scoring, picks since. */
  scoredVersion: number;
  scoredAt: number;
  picksSinceScore: number;
  /** The candidate list seen last, and its slots, index-aligned. */
  readonly nodes: NodeState[];
  readonly slots: NodeSlot[];
}

export interface StateTable {
  /** State of the cluster this pick is for (`ctx.clusterId`, else the first candidate's). */
  forPick(candidates: readonly NodeState[], ctx: PickContext | undefined): ClusterState;
  /** Slot of one node, created on first sight. */
  slot(clusterId: string | undefined, id: string): NodeSlot;
  /** Slots index-aligned with `candidates`; rebuilt (in place) only when the list changed. */
  align(state: ClusterState, candidates: readonly NodeState[]): NodeSlot[];
}

function newCluster(): ClusterState {
  return {
    rr: 0,
    version: 0,
    scoredVersion: -1,
    scoredAt: 0,
    picksSinceScore: 0,
    byId: new Map(),
    nodes: [],
    slots: [],
  };
}

/**
 * State kept per cluster (never one counter shared by every cluster). Lookups
 * in steady state allocate nothing: the last cluster is cached, and slots stay
 * aligned with the candidate array until its members change.
 */
export function createStateTable(weights?: Readonly<Record<string, number>>): StateTable {
  const clusters = new Map<string, ClusterState>();
  let lastKey: string | undefined;
  let last: ClusterState | undefined;

  const cluster = (key: string): ClusterState => {
    if (key === lastKey && last !== undefined) return last;
    let s = clusters.get(key);
    if (s === undefined) {
      s = newCluster();
      clusters.set(key, s);
    }
    lastKey = key;
    last = s;
    return s;
  };

  const makeSlot = (s: ClusterState, id: string): NodeSlot => {
    let slot = s.byId.get(id);
    if (slot === undefined) {
      const w = weights !== undefined && Object.hasOwn(weights, id) ? weights[id]! : -1;
      slot = {
        id,
        weightOverride: w,
        current: 0,
        eff: 0,
        decay: 1,
        decayFor: Number.NaN,
        decayAt: 0,
        score: 0,
        share: 0,
      };
      s.byId.set(id, slot);
    }
    return slot;
  };

  return {
    forPick(candidates, ctx) {
      return cluster(ctx?.clusterId ?? candidates[0]?.clusterId ?? '');
    },
    slot(clusterId, id) {
      return makeSlot(cluster(clusterId ?? ''), id);
    },
    align(s, candidates) {
      const n = candidates.length;
      const nodes = s.nodes;
      if (nodes.length === n) {
        let i = 0;
        while (i < n && nodes[i] === candidates[i]) i++;
        if (i === n) return s.slots;
      }
      s.version++;
      nodes.length = n;
      s.slots.length = n;
      for (let i = 0; i < n; i++) {
        const node = candidates[i]!;
        nodes[i] = node;
        s.slots[i] = makeSlot(s, node.id);
      }
      return s.slots;
    },
  };
}

/** Current rotation index over `n` candidates, without advancing it. */
export function rotationStart(s: ClusterState, n: number): number {
  const i = s.rr;
  return i >= n ? i % n : i;
}

/** Next start index for rotation over `n` candidates (round robin), advancing it. */
export function rotate(s: ClusterState, n: number): number {
  let i = s.rr;
  if (i >= n) i %= n;
  s.rr = i + 1;
  return i;
}

/** Weight of a node: the `weights` option by id, else `node.weight`; invalid -> 1 (missing) or 0 (negative). */
export function weightOf(slot: NodeSlot, node: NodeState): number {
  const o = slot.weightOverride;
  if (o >= 0) return o;
  const w = node.weight;
  if (w >= 0 && w < Number.POSITIVE_INFINITY) return w;
  return w === undefined || Number.isNaN(w) ? 1 : w > 0 ? Number.MAX_SAFE_INTEGER : 0;
}

/** `x` when it is a positive number, else 0 (missing, NaN and negative counters count as 0). */
export function positive(x: number): number {
  if (x > 0) return x;
  return 0;
}
