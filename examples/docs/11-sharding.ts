// Product documentation: "Sharding" — hash sharding by user_id over 4 partitions. Here the
// partitions live on two servers (the documentation's shard replicas become shards).
import { type ClusterConfiguration, hashShard, PgMultiverse } from 'pg-multiverse';
import type { ExampleContext } from './context.js';

export async function run({ config, log }: ExampleContext) {
  const shardServers = [config.users_cluster!.primary, config.commerce_cluster!.primary];
  const sharded: ClusterConfiguration = {
    orders_cluster: {
      schemas: ['sharded_orders'],
      sharding: {
        strategy: 'hash',
        key: 'user_id',
        partitions: 4,
        keyType: 'int8',
        shards: shardServers.map((primary) => ({ primary })),
      },
      primary: shardServers[0]!,
    },
  };
  const postgres = new PgMultiverse();
  await postgres.initialize(sharded);
  try {
    const placed: Record<number, number> = {};
    for (let userId = 1; userId <= 8; userId++) {
      await postgres.query('CREATE SCHEMA IF NOT EXISTS sharded_orders', [], {
        schema: 'sharded_orders',
        shardKey: userId,
      });
      await postgres.query('CREATE TABLE IF NOT EXISTS orders (user_id bigint, total numeric)', [], {
        schema: 'sharded_orders',
        shardKey: userId,
      });
      await postgres.query('INSERT INTO orders VALUES ($1, $2)', [userId, userId * 10], {
        schema: 'sharded_orders',
        shardKey: userId,
      });
      const r = await postgres.query<{ port: number }>('SELECT inet_server_port() AS port', [], {
        schema: 'sharded_orders',
        shardKey: userId,
        role: 'primary',
      });
      placed[userId] = r.rows[0]!.port;
      log(`user ${userId} -> partition ${hashShard(userId, 4, 'int8')} on server port ${placed[userId]}`);
    }
    return placed;
  } finally {
    await postgres.close();
  }
}
