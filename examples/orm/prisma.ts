// Prisma ORM 7 over pgm.pool(), through its driver adapter @prisma/adapter-pg (which takes a
// pg.Pool). No Prisma engine binaries: the client runs Prisma's query compiler shipped on npm.
// `prisma generate` (pnpm run prisma:generate) does not use the schema engine either, but the CLI
// still tries to download it at start from a host this machine cannot reach; the script points
// PRISMA_SCHEMA_ENGINE_BINARY at /bin/true so it skips that download (see the README).
// The adapter's `schema` option qualifies every table ("users_x"."accounts"), so pg-multiverse
// routes each statement to the cluster owning that schema.
//   cd examples && pnpm run prisma:generate && node --import tsx orm/prisma.ts
import { PrismaPg } from '@prisma/adapter-pg';
import type { PgMultiverse } from 'pg-multiverse';
import { PrismaClient } from './prisma/generated/client.js';

/** Prisma over the routing pool: the adapter gets pgm.pool() where it takes a pg.Pool. */
export function connect(pgm: PgMultiverse, schema: string) {
  return new PrismaClient({ adapter: new PrismaPg(pgm.pool(), { schema }) });
}

export type Db = ReturnType<typeof connect>;

/** Nested create: BEGIN, the inserts and COMMIT on one primary session (Prisma wraps it in a transaction). */
export async function write(db: Db) {
  const ada = await db.account.create({
    data: {
      email: 'ada@example.com',
      name: 'Ada',
      posts: { create: [{ title: 'Notes on the analytical engine' }, { title: 'Bernoulli numbers' }] },
    },
  });
  await db.account.update({ where: { id: ada.id }, data: { name: 'Ada Lovelace' } });
  const bob = await db.account.create({ data: { email: 'bob@example.com', name: 'Bob' } });
  return { ada: ada.id, bob: bob.id };
}

/** findMany with include (two selects), count: every one to a replica. */
export async function read(db: Db) {
  const accounts = await db.account.findMany({
    include: { posts: { orderBy: { id: 'asc' } } },
    orderBy: { id: 'asc' },
  });
  const posts = await db.post.count();
  return { accounts, posts };
}

/** An interactive transaction: one session of the primary from BEGIN to COMMIT. */
export async function transfer(db: Db, from: number, to: number) {
  return db.$transaction(async (tx) => {
    const post = await tx.post.findFirstOrThrow({ where: { accountId: from }, orderBy: { id: 'asc' } });
    await tx.post.update({ where: { id: post.id }, data: { accountId: to } });
    return { moved: post.id, nowOwned: await tx.post.count({ where: { accountId: to } }) };
  });
}

/** A transaction that also writes a table of commerce_cluster: refused (CROSS_CLUSTER_STATEMENT), rolled back whole. */
export async function crossCluster(db: Db, commerceSchema: string, account: number) {
  return db.$transaction(async (tx) => {
    await tx.post.create({ data: { accountId: account, title: 'never committed' } });
    await tx.$executeRawUnsafe(`INSERT INTO "${commerceSchema}".orders (account_id, total) VALUES ($1, 1)`, account);
  });
}

/** The tables the schema above maps to (Prisma Migrate needs the schema engine; plain DDL does not). */
export function ddl(usersSchema: string): string {
  return `CREATE TABLE IF NOT EXISTS "${usersSchema}".accounts (id serial PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL);
    CREATE TABLE IF NOT EXISTS "${usersSchema}".posts (id serial PRIMARY KEY, account_id int NOT NULL REFERENCES "${usersSchema}".accounts (id), title text NOT NULL)`;
}

// Standalone: a local topology, every step, where each statement ran.
if (import.meta.url === `file://${process.argv[1]}`) {
  const { standalone } = await import('./standalone.js');
  await standalone(async (pgm, caughtUp) => {
    await pgm.query(ddl('users'));
    await pgm.query('CREATE TABLE orders.orders (id serial PRIMARY KEY, account_id int NOT NULL, total int NOT NULL)');
    const db = connect(pgm, 'users');
    const ids = await write(db);
    await caughtUp();
    console.log(await read(db));
    console.log(await transfer(db, ids.ada, ids.bob));
    console.log(await crossCluster(db, 'orders', ids.ada).catch((e: Error) => `refused: ${e.message}`));
    await db.$disconnect();
  });
}
