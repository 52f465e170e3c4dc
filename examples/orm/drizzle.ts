// Drizzle ORM over pgm.pool(): selects go to replicas, inserts/updates and writing CTEs to the
// primary, db.transaction() to one primary session, relational queries to replicas; tables of
// schemas owned by different clusters go to their own cluster.
//   cd examples && node --import tsx orm/drizzle.ts
import { eq, relations, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { integer, pgSchema, serial, text } from 'drizzle-orm/pg-core';
import type { PgMultiverse } from 'pg-multiverse';

/** The tables: accounts and posts in a schema of users_cluster, orders in one of commerce_cluster. */
export function tables(usersSchema: string, commerceSchema: string) {
  const u = pgSchema(usersSchema);
  const accounts = u.table('accounts', {
    id: serial('id').primaryKey(),
    email: text('email').notNull().unique(),
    name: text('name').notNull(),
  });
  const posts = u.table('posts', {
    id: serial('id').primaryKey(),
    accountId: integer('account_id')
      .notNull()
      .references(() => accounts.id),
    title: text('title').notNull(),
  });
  const orders = pgSchema(commerceSchema).table('orders', {
    id: serial('id').primaryKey(),
    accountId: integer('account_id').notNull(),
    total: integer('total').notNull(),
  });
  const accountsRelations = relations(accounts, ({ many }) => ({ posts: many(posts) }));
  const postsRelations = relations(posts, ({ one }) => ({
    account: one(accounts, { fields: [posts.accountId], references: [accounts.id] }),
  }));
  return { accounts, posts, orders, accountsRelations, postsRelations };
}

export type Tables = ReturnType<typeof tables>;

/** Drizzle over the routing pool: the only line that differs from Drizzle over a pg.Pool. */
export function connect(pgm: PgMultiverse, schema: Tables) {
  return drizzle({ client: pgm.pool(), schema });
}

export type Db = ReturnType<typeof connect>;

export async function createTables(db: Db, usersSchema: string, commerceSchema: string) {
  await db.execute(
    sql.raw(`CREATE TABLE IF NOT EXISTS "${usersSchema}".accounts (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL);
      CREATE TABLE IF NOT EXISTS "${usersSchema}".posts (id serial PRIMARY KEY, account_id int NOT NULL REFERENCES "${usersSchema}".accounts (id), title text NOT NULL)`),
  );
  await db.execute(
    sql.raw(
      `CREATE TABLE IF NOT EXISTS "${commerceSchema}".orders (id serial PRIMARY KEY, account_id int NOT NULL, total int NOT NULL)`,
    ),
  );
}

/** Inserts, an update and a writing CTE: every one to a primary. */
export async function write(db: Db, t: Tables) {
  const [ada] = await db
    .insert(t.accounts)
    .values({ email: 'ada@example.com', name: 'Ada' })
    .returning({ id: t.accounts.id });
  const [bob] = await db
    .insert(t.accounts)
    .values({ email: 'bob@example.com', name: 'Bob' })
    .returning({ id: t.accounts.id });
  await db.insert(t.posts).values([
    { accountId: ada!.id, title: 'Notes on the analytical engine' },
    { accountId: ada!.id, title: 'Bernoulli numbers' },
  ]);
  await db.update(t.accounts).set({ name: 'Ada Lovelace' }).where(eq(t.accounts.id, ada!.id));
  // A writing CTE (a SELECT on the outside): the SQL analysis sees the INSERT, so it goes to the primary.
  const inserted = db
    .$with('inserted')
    .as(db.insert(t.posts).values({ accountId: bob!.id, title: 'Hello' }).returning({ id: t.posts.id }));
  const [cte] = await db.with(inserted).select({ n: sql<number>`count(*)::int` }).from(inserted);
  await db.insert(t.orders).values({ accountId: ada!.id, total: 42 });
  return { ada: ada!.id, bob: bob!.id, cteInserted: cte!.n };
}

/** Selects, a join and a relational query: every one to a replica. */
export async function read(db: Db, t: Tables) {
  const accounts = await db.select().from(t.accounts).orderBy(t.accounts.id);
  // Two columns named "id" and "title"/"name": Drizzle reads rows as arrays (rowMode 'array').
  const joined = await db
    .select({ account: t.accounts.name, post: t.posts.title, postId: t.posts.id, accountId: t.accounts.id })
    .from(t.posts)
    .innerJoin(t.accounts, eq(t.posts.accountId, t.accounts.id))
    .orderBy(t.posts.id);
  const withPosts = await db.query.accounts.findMany({
    with: { posts: { columns: { title: true }, orderBy: (p, { asc }) => [asc(p.id)] } },
    orderBy: (a, { asc }) => [asc(a.id)],
  });
  const orders = await db.select().from(t.orders);
  return { accounts, joined, withPosts, orders };
}

/** db.transaction(): one session of users_cluster's primary from BEGIN to COMMIT. */
export async function transfer(db: Db, t: Tables, from: number, to: number) {
  return db.transaction(async (tx) => {
    const [post] = await tx.select().from(t.posts).where(eq(t.posts.accountId, from)).limit(1);
    await tx.update(t.posts).set({ accountId: to }).where(eq(t.posts.id, post!.id));
    const mine = await tx.select().from(t.posts).where(eq(t.posts.accountId, to));
    return { moved: post!.id, nowOwned: mine.length };
  });
}

/** A transaction that also writes to commerce_cluster: refused (CROSS_CLUSTER_STATEMENT), rolled back whole. */
export async function crossCluster(db: Db, t: Tables, account: number) {
  return db.transaction(async (tx) => {
    await tx.insert(t.posts).values({ accountId: account, title: 'never committed' });
    await tx.insert(t.orders).values({ accountId: account, total: 1 });
  });
}

// Standalone: a local topology, every step, where each statement ran.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { standalone } = await import('./standalone.js');
  await standalone(async (pgm, caughtUp) => {
    const t = tables('users', 'orders');
    const db = connect(pgm, t);
    await createTables(db, 'users', 'orders');
    const ids = await write(db, t);
    await caughtUp();
    console.log(await read(db, t));
    console.log(await transfer(db, t, ids.ada, ids.bob));
    console.log(await crossCluster(db, t, ids.ada).catch((e: Error) => `refused: ${e.message}`));
  });
}
