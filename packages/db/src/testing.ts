import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDb, isPostgresUrl, type Db } from "./create-db.ts";
import { migrate } from "./migrate.ts";

export interface TestDb extends Db {
  /** Drops the database (Postgres) or closes it (PGlite). */
  drop(): Promise<void>;
  /** Owner-level SQL, e.g. to disable the ledger trigger in tamper tests. */
  adminQuery(sql: string): Promise<void>;
}

/**
 * A fresh, migrated database for one test file: a new Postgres database (named
 * `lb_test_<random>`) on the server of DATABASE_URL when it is set, else in-memory PGlite.
 */
export async function createTestDb(): Promise<TestDb> {
  const baseUrl = process.env.DATABASE_URL;
  if (!isPostgresUrl(baseUrl)) {
    const db = await createDb({ url: "memory://" });
    await migrate(db);
    return {
      ...db,
      drop: () => db.close(),
      adminQuery: async (sql) => {
        await db.pglite!.exec(sql);
      },
    };
  }
  const name = `lb_test_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  const db = await createDb({ url: url.href, poolSize: 10 });
  await migrate(db);
  return {
    ...db,
    url: url.href,
    async adminQuery(sql) {
      const c = new pg.Client({ connectionString: url.href });
      await c.connect();
      try {
        await c.query(sql);
      } finally {
        await c.end();
      }
    },
    async drop() {
      await db.close();
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
