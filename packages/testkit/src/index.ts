export { embeddedBinDir, findPgBinaries, type PgBinaries } from './binaries.js';
export { TestkitError } from './errors.js';
export { freePort } from './free-port.js';
export { type PlainProvider, plainPoolProvider } from './plain-provider.js';
export { isProcessAlive } from './process-alive.js';
export { reapOrphans } from './reaper.js';
export { type RedisHandle, startRedis } from './redis.js';
export type { ReplicaMethod } from './replicas.js';
export { DEFAULT_PASSWORD, PASSWORD_ROLE } from './settings.js';
export { type ProxyMode, startTcpProxy, type TcpProxy } from './tcp-proxy.js';
export {
  type ClusterHandle,
  type ClusterSpec,
  type NodeInfo,
  startTopology,
  type Topology,
  type TopologyOptions,
} from './topology.js';
export type {
  NodeConnection,
  NodeHandle,
  NodeRole,
  QueryResultLite,
  StopNodeOptions,
  TopologyClusterConfig,
  TopologyConfig,
} from './types.js';
export { uniqueName } from './unique-name.js';
export type { PgmTopologyContext } from './vitest-context.js';
export { waitForReplicas } from './wait-for-replicas.js';
export { withSchemas } from './with-schemas.js';
