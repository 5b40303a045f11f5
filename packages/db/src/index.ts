export { createDb, isPostgresUrl, type Db, type DbKind, type CreateDbOptions } from "./create-db.ts";
export type { Sql, SqlValue, Statement, Transaction, TxSql } from "./prepared-sql.ts";
export { migrate, migrationStatus, MIGRATIONS_DIR, SCHEMA_PATH, type MigrateResult } from "./migrate.ts";
export { checkDrift, createMigration } from "./schema-diff.ts";
export { migrateAsOwner, migrateIfPending } from "./migrate-as-owner.ts";
export { runtimeRoleSql } from "./runtime-role.ts";
export * from "./generated/client.ts";
import type { Prisma } from "./generated/client.ts";
/** A Prisma interactive-transaction client; services take one to join the caller's transaction. */
export type Tx = Prisma.TransactionClient;
