// Prisma CLI configuration. Migrations are applied by @link-broker/db's migrate() (WebAssembly
// schema engine), so the CLI is only used for `generate`; a machine with the native engine can
// still run `prisma migrate deploy` against the same database.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  datasource: { url: process.env.DATABASE_URL ?? "postgresql://localhost/link_broker" },
});
