// Kysely over pgm.pool(): `new PostgresDialect({ pool: pgm.pool() })`. Kysely takes a client from
// pool.connect() for every query; outside a transaction the client routes each statement (selects
// to replicas, writes and writing CTEs to the primary), and db.transaction() keeps one session of
// the primary from BEGIN to COMMIT.
//   cd examples && node --import tsx orm/kysely.ts
import { type Generated, Kysely, PostgresDialect, sql } from 'kysely';
import type { PgMultiverse } from 'pg-multiverse';

export interface Database {
  accounts: { id: Generated<number>; email: string; name: string };
  posts: { id: Generated<number>; account_id: number; title: string };
  orders: { id: Generated<number>; account_id: number; total: number };
}

/** Kysely over the routing pool: the only line that differs from Kysely over a pg.Pool. */
export function connect(pgm: PgMultiverse) {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool: pgm.pool() }) });
}

export type Db = Kysely<Database>;

export async function createTables(db: Db, users: string, commerce: string) {
  await db.schema
    .withSchema(users)
    .createTable('accounts')
    .ifNotExists()
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('email', 'text', (c) => c.notNull().unique())
    .addColumn('name', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .withSchema(users)
    .createTable('posts')
    .ifNotExists()
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
    .addColumn('title', 'text', (c) => c.notNull())
    .execute();
  await db.schema
    .withSchema(commerce)
    .createTable('orders')
    .ifNotExists()
    .addColumn('id', 'serial', (c) => c.primaryKey())
    .addColumn('account_id', 'integer', (c) => c.notNull())
    .addColumn('total', 'integer', (c) => c.notNull())
    .execute();
}

/** Inserts, an update and a writing CTE: every one to a primary. */
export async function write(db: Db, users: string, commerce: string) {
  const u = db.withSchema(users);
  const ada = await u
    .insertInto('accounts')
    .values({ email: 'ada@example.com', name: 'Ada' })
    .returning('id')
    .executeTakeFirstOrThrow();
  const bob = await u
    .insertInto('accounts')
    .values({ email: 'bob@example.com', name: 'Bob' })
    .returning('id')
    .executeTakeFirstOrThrow();
  await u
    .insertInto('posts')
    .values([
      { account_id: ada.id, title: 'Notes on the analytical engine' },
      { account_id: ada.id, title: 'Bernoulli numbers' },
    ])
    .execute();
  await u.updateTable('accounts').set({ name: 'Ada Lovelace' }).where('id', '=', ada.id).execute();
  // A writing CTE with a SELECT outside: the SQL analysis sees the INSERT, so it goes to the primary.
  const cte = await u
    .with('inserted', (q) => q.insertInto('posts').values({ account_id: bob.id, title: 'Hello' }).returning('id'))
    .selectFrom('inserted')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirstOrThrow();
  await db.withSchema(commerce).insertInto('orders').values({ account_id: ada.id, total: 42 }).execute();
  return { ada: ada.id, bob: bob.id, cteInserted: Number(cte.n) };
}

/** Selects and a join: every one to a replica. */
export async function read(db: Db, users: string, commerce: string) {
  const u = db.withSchema(users);
  const accounts = await u.selectFrom('accounts').selectAll().orderBy('id').execute();
  const joined = await u
    .selectFrom('posts')
    .innerJoin('accounts', 'accounts.id', 'posts.account_id')
    .select(['accounts.name as account', 'posts.title as post'])
    .orderBy('posts.id')
    .execute();
  const orders = await db.withSchema(commerce).selectFrom('orders').selectAll().execute();
  const total = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(`${users}.posts`)}`.execute(db);
  return { accounts, joined, orders, posts: total.rows[0]!.n };
}

/** db.transaction(): one session of users_cluster's primary from BEGIN to COMMIT. */
export async function transfer(db: Db, users: string, from: number, to: number) {
  return db.transaction().execute(async (trx) => {
    const u = trx.withSchema(users);
    const post = await u
      .selectFrom('posts')
      .select('id')
      .where('account_id', '=', from)
      .orderBy('id')
      .limit(1)
      .executeTakeFirstOrThrow();
    await u.updateTable('posts').set({ account_id: to }).where('id', '=', post.id).execute();
    const mine = await u.selectFrom('posts').select('id').where('account_id', '=', to).execute();
    return { moved: post.id, nowOwned: mine.length };
  });
}

/** A transaction that also writes to commerce_cluster: refused (CROSS_CLUSTER_STATEMENT), rolled back whole. */
export async function crossCluster(db: Db, users: string, commerce: string, account: number) {
  return db.transaction().execute(async (trx) => {
    await trx.withSchema(users).insertInto('posts').values({ account_id: account, title: 'never committed' }).execute();
    await trx.withSchema(commerce).insertInto('orders').values({ account_id: account, total: 1 }).execute();
  });
}

// Standalone: a local topology, every step, where each statement ran.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { standalone } = await import('./standalone.js');
  await standalone(async (pgm, caughtUp) => {
    const db = connect(pgm);
    await createTables(db, 'users', 'orders');
    const ids = await write(db, 'users', 'orders');
    await caughtUp();
    console.log(await read(db, 'users', 'orders'));
    console.log(await transfer(db, 'users', ids.ada, ids.bob));
    console.log(await crossCluster(db, 'users', 'orders', ids.ada).catch((e: Error) => `refused: ${e.message}`));
    await db.destroy();
  });
}
