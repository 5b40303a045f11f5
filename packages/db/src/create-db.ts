import { mkdirSync } from "node:fs";
import type { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import pg from "pg";
import { PrismaClient } from "./generated/client.ts";
import { pgliteMigrationAdapter, pgMigrationAdapter } from "./migration-adapters.ts";
import { pgliteSql, pgliteTransaction, postgresSql, postgresTransaction, type Sql, type Transaction } from "./prepared-sql.ts";

export type DbKind = "postgres" | "pglite";

export interface Db {
  prisma: PrismaClient;
  kind: DbKind;
  /** A named statement outside any transaction, for hot paths (prepared-sql.ts). */
  sql: Sql;
  /** One transaction of named statements on one connection, for hot paths (prepared-sql.ts TxSql). */
  transaction: Transaction;
  /** A migration-safe adapter factory for the schema engine (migrate, drift, diff). */
  migrationAdapter(): SqlMigrationAwareDriverAdapterFactory;
  /** The Postgres connection string (postgres only), for LISTEN/NOTIFY connections. */
  url?: string;
  /** The embedded database (pglite only), for its in-process listen/notify. */
  pglite?: PGlite;
  close(): Promise<void>;
}

export interface CreateDbOptions {
  /**
   * `postgres://...` or `postgresql://...` → Postgres. Anything else is PGlite: a folder path,
   * or `memory://` (also the default) for an in-memory database.
   */
  url?: string;
  /** Pool size for Postgres. */
  poolSize?: number;
  /**
   * Postgres: how long a query waits for a pool connection, and how long one statement may run,
   * in ms. Both end in an error (the broker answers 503) rather than a request that hangs.
   */
  connectTimeoutMs?: number;
  statementTimeoutMs?: number;
  /** An already-open embedded database to use instead of opening one from `url`. */
  pglite?: PGlite;
}

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//.test(url);
}

export async function createDb(options: CreateDbOptions = {}): Promise<Db> {
  const { url } = options;
  if (isPostgresUrl(url)) {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize ?? 20,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs ?? 30_000,
      // A process that stops mid-transaction must not hold its row locks for long.
      idle_in_transaction_session_timeout: 60_000,
      keepAlive: true,
    });
    // A pool error on an idle client must not crash the process; the next query reports it.
    pool.on("error", () => {});
    const adapter = new PrismaPg(pool);
    const prisma = new PrismaClient({ adapter });
    return {
      prisma,
      kind: "postgres",
      sql: postgresSql(pool),
      transaction: postgresTransaction(pool),
      migrationAdapter: () => pgMigrationAdapter(url),
      url,
      async close() {
        await prisma.$disconnect();
        await pool.end().catch(() => {});
      },
    };
  }
  const dataDir = !url || url === "memory://" ? undefined : String(url).replace(/^file:(\/\/)?/, "");
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  // Loaded only here: the embedded database's code costs a Postgres-backed process ~40 MB of RSS.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([import("@electric-sql/pglite"), import("pglite-prisma-adapter")]);
  const pglite = options.pglite ?? (dataDir ? new PGlite(dataDir) : new PGlite());
  await pglite.waitReady;
  const adapter = new PrismaPGlite(pglite);
  const prisma = new PrismaClient({ adapter });
  return {
    prisma,
    kind: "pglite",
    sql: pgliteSql(pglite),
    transaction: pgliteTransaction(pglite),
    migrationAdapter: () => pgliteMigrationAdapter(pglite),
    pglite,
    async close() {
      await prisma.$disconnect();
      if (!pglite.closed) await pglite.close();
    },
  };
}
