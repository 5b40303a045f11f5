// Migrations run as the role that owns the schema. With DATABASE_MIGRATION_URL set, the broker's
// own DATABASE_URL may be a least-privilege role (INSERT and SELECT only on the ledger tables;
// see prisma/runtime-role.sql), which could not create or alter tables anyway.
import { createDb, migrate, type Db, type MigrateResult } from "@link-broker/db";
import type { Config } from "../config.ts";

export async function migrateAsOwner(db: Db, config: Pick<Config, "databaseMigrationUrl">): Promise<MigrateResult> {
  if (!config.databaseMigrationUrl) return migrate(db);
  const owner = await createDb({ url: config.databaseMigrationUrl, poolSize: 2 });
  try {
    return await migrate(owner);
  } finally {
    await owner.close();
  }
}
