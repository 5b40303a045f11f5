// Migrations run as the role that owns the schema. With a migration URL (the broker's
// DATABASE_MIGRATION_URL), the database the app uses may be a least-privilege runtime role
// (prisma/runtime-role.sql), which could not create or alter tables anyway.
import { createDb, type Db } from "./create-db.ts";
import { migrate, migrationStatus, type MigrateResult } from "./migrate.ts";

export async function migrateAsOwner(db: Db, migrationUrl: string | undefined): Promise<MigrateResult> {
  if (!migrationUrl) return migrate(db);
  const owner = await createDb({ url: migrationUrl, poolSize: 2 });
  try {
    return await migrate(owner);
  } finally {
    await owner.close();
  }
}

/**
 * Start-up migrations: nothing is loaded when no migration is pending (one query on
 * `_prisma_migrations`), since the WebAssembly schema engine costs seconds and about 50 MB a
 * process never gets back. `apply` runs the pending ones (default: here, as the owner).
 */
export async function migrateIfPending(db: Db, migrationUrl: string | undefined, apply: () => Promise<unknown> = () => migrateAsOwner(db, migrationUrl)): Promise<string[] | undefined> {
  // A status that cannot be read (database away, wrong password): migrating here fails at once
  // with the driver's own error code, which start-up turns into one clear line.
  const pending = await migrationStatus(db).then(
    (s) => s.pending,
    () => undefined,
  );
  if (pending === undefined) await migrateAsOwner(db, migrationUrl);
  else if (pending.length > 0) await apply();
  return pending;
}
