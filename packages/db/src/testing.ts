import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import pg from "pg";
import { createDb, isPostgresUrl, type Db } from "./create-db.ts";
import { listMigrations, migrate, MIGRATIONS_DIR } from "./migrate.ts";

/**
 * An in-memory PGlite with every migration applied. Booting and migrating PGlite takes seconds,
 * so the first call per migration set dumps a migrated data directory to the temp folder and
 * later ones (other test files, later runs) load it.
 */
async function migratedPglite(): Promise<PGlite> {
  const list = await listMigrations(MIGRATIONS_DIR);
  const hash = createHash("sha256");
  for (const m of list.migrationDirectories) hash.update(m.path).update(m.migrationFile.content.value);
  const file = join(tmpdir(), `link-broker-pglite-${hash.digest("hex").slice(0, 16)}.tgz`);
  if (existsSync(file)) {
    try {
      return await PGlite.create({ loadDataDir: new Blob([readFileSync(file)]) });
    } catch {
      // A damaged cache file: rebuild it below.
    }
  }
  const pglite = await PGlite.create();
  const db = await createDb({ url: "memory://", pglite });
  await migrate(db);
  const dump = await pglite.dumpDataDir("gzip");
  const partial = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  writeFileSync(partial, Buffer.from(await dump.arrayBuffer()));
  renameSync(partial, file);
  return pglite;
}

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
    const db = await createDb({ url: "memory://", pglite: await migratedPglite() });
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
