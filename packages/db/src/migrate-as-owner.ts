// Migrations run as the role that owns the schema. With a migration URL (the broker's
// DATABASE_MIGRATION_URL), the database the app uses may be a least-privilege runtime role
// (prisma/runtime-role.sql), which could not create or alter tables anyway.
import { createDb, type Db } from "./create-db.ts";
import { migrate, type MigrateResult } from "./migrate.ts";

export async function migrateAsOwner(db: Db, migrationUrl: string | undefined): Promise<MigrateResult> {
  if (!migrationUrl) return migrate(db);
  const owner = await createDb({ url: migrationUrl, poolSize: 2 });
  try {
    return await migrate(owner);
  } finally {
    await owner.close();
  }
}
