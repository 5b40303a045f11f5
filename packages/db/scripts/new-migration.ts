// Writes prisma/migrations/<timestamp>_<name>/migration.sql from the difference between the
// existing migrations and prisma/schema.prisma. Runs on an in-memory database; needs no server.
//   pnpm db:migration add_widget_table
import { createDb, createMigration, MIGRATIONS_DIR, SCHEMA_PATH } from "../src/index.ts";

const name = process.argv[2];
if (!name) {
  process.stderr.write("usage: pnpm db:migration <name>\n");
  process.exit(2);
}
const db = await createDb({ url: "memory://" });
try {
  const created = await createMigration({ adapterFactory: db.migrationAdapter(), schemaPath: SCHEMA_PATH, migrationsDir: MIGRATIONS_DIR, name });
  if (!created) process.stdout.write("schema.prisma and the migrations already agree; nothing written\n");
  else process.stdout.write(`wrote ${created.dir}/migration.sql\n`);
} finally {
  await db.close();
}
