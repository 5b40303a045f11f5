// Migration-safe adapter factories. The stock adapters are fine for PrismaClient but have
// bugs in `executeScript`, which is what the schema engine uses to run migration.sql files:
//  - @prisma/adapter-pg 7.10: `script.split(";")` => breaks $$-quoted function bodies, ';' in
//    strings/comments, and runs statements one by one (non-atomic).
//  - pglite-prisma-adapter 0.7.2: `this.client.exec(script)` is not awaited => SQL errors are lost
//    (unhandled rejection) and the migration is recorded as applied. Its shadow DB
//    (`new PGlite("memory://shadow")`, ~3-4 s to boot) is never closed.
// Fix: send the whole script as ONE simple-protocol query (what the native engine does); Postgres
// runs a multi-statement simple query in an implicit transaction, so a failing migration
// leaves no partial schema (same as native `migrate deploy`).
import { randomUUID } from "node:crypto";
import pg from "pg";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlDriverAdapter, SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";

type Internals = { onError(e: unknown): never };

function wholeScript(adapter: SqlDriverAdapter, run: (sql: string) => Promise<unknown>): SqlDriverAdapter {
  adapter.executeScript = async (script: string) => {
    try {
      await run(script);
    } catch (e) {
      (adapter as unknown as Internals).onError(e); // maps DB errors to DriverAdapterError
    }
  };
  return adapter;
}

// @prisma/adapter-pg 7.10 throws UnsupportedNativeDataType for OID 18 ("char"), which the schema
// describer selects from pg_catalog (diff/drift/introspection fail with "Column type 'char' could not
// be deserialized"). Report those columns as text (25); the value is already a 1-char string.
type PgIO = { performIO(q: unknown): Promise<pg.QueryResult> };
function charAsText(adapter: SqlDriverAdapter): SqlDriverAdapter {
  const a = adapter as unknown as PgIO;
  const performIO = a.performIO.bind(a);
  a.performIO = async (q) => {
    const res = await performIO(q);
    for (const f of res.fields) if (f.dataTypeID === 18) f.dataTypeID = 25;
    return res;
  };
  return adapter;
}

/**
 * Postgres via node-postgres. `pool` (optional) is used for the main connection; you own it.
 * Shadow DB: CREATE DATABASE prisma_migrate_shadow_db_<uuid> on the same server (needs CREATEDB),
 * dropped on dispose. Not using PrismaPg#connectToShadowDb: it builds the shadow pool as
 * `{ ...config, database }`, and node-postgres lets `connectionString` override `database`, so with
 * `new PrismaPg({ connectionString })` the "shadow" pool silently points at the MAIN database.
 */
export function pgMigrationAdapter(connectionString: string, pool?: pg.Pool): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPg(pool ?? { connectionString });
  const script = (a: SqlDriverAdapter) =>
    charAsText(wholeScript(a, (sql) => (a as unknown as { client: pg.Pool }).client.query(sql))); // no params => simple protocol
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    connect: async () => script(await main.connect()),
    connectToShadowDb: async () => {
      const admin = new pg.Client({ connectionString });
      await admin.connect();
      const name = `prisma_migrate_shadow_db_${randomUUID()}`;
      await admin.query(`CREATE DATABASE "${name}"`);
      const url = new URL(connectionString);
      url.pathname = `/${name}`;
      const shadowPool = new pg.Pool({ connectionString: url.toString() });
      const adapter = script(await new PrismaPg(shadowPool).connect());
      adapter.dispose = async () => {
        await shadowPool.end();
        await admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => admin.end());
      };
      return adapter;
    },
  };
}

// A blank PGlite data dir, dumped once per process: booting from it takes ~1 s vs ~3-4 s for initdb.
let blankDump: Promise<File | Blob> | undefined;
export async function newBlankPGlite(): Promise<PGlite> {
  // Loaded on first use, like in create-db.ts: Postgres-backed processes never pay for it.
  const { PGlite } = await import("@electric-sql/pglite");
  blankDump ??= PGlite.create().then(async (db) => {
    const dump = await db.dumpDataDir("none");
    await db.close();
    return dump;
  });
  return PGlite.create({ loadDataDir: await blankDump });
}

async function pgliteAdapter(client: PGlite, owned: boolean): Promise<SqlDriverAdapter> {
  const { PrismaPGlite } = await import("pglite-prisma-adapter");
  const adapter = wholeScript(await new PrismaPGlite(client).connect(), (sql) => client.exec(sql));
  // An unclosed PGlite re-arms a 10 s internal timer forever and keeps Node alive.
  if (owned) adapter.dispose = () => client.close();
  return adapter;
}

/** PGlite (in memory or on disk; you own `db`). Shadow DB = fresh in-memory PGlite, closed on dispose. */
export function pgliteMigrationAdapter(db: PGlite): SqlMigrationAwareDriverAdapterFactory {
  return {
    provider: "postgres",
    adapterName: "pglite-prisma-adapter",
    connect: () => pgliteAdapter(db, false),
    connectToShadowDb: async () => pgliteAdapter(await newBlankPGlite(), true),
  };
}
