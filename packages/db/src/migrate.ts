// `prisma migrate deploy` equivalent on top of the wasm schema engine + a driver adapter.
import { existsSync } from "node:fs";
import { readFile, readdir } from "node:fs/promises";
import path from "node:path";
import type { MigrationList, MigrationDirectory } from "@prisma/schema-engine-wasm";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { Db } from "./create-db.ts";
import { loadSchemaEngine } from "./schema-engine.ts";

/**
 * Read a Prisma migrations folder (`<dir>/<name>/migration.sql` + `<dir>/migration_lock.toml`)
 * into the engine's `MigrationList`. Mirrors the CLI's own loader (prisma/build/cli.js):
 * subdirectories sorted by name, unreadable migration.sql reported as `{tag:"error"}`,
 * missing lockfile => `content: null`, missing folder => no migrations.
 */
export async function listMigrations(migrationsDir: string, shadowDbInitScript = ""): Promise<MigrationList> {
  const baseDir = path.resolve(migrationsDir);
  const lockPath = "migration_lock.toml";
  const lockContent = await readFile(path.join(baseDir, lockPath), "utf8").catch(() => null);
  const entries = await readdir(baseDir, { withFileTypes: true }).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return [];
    throw e;
  });
  const migrationDirectories: MigrationDirectory[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = "migration.sql";
    const content = await readFile(path.join(baseDir, entry.name, file), "utf8").then(
      (value) => ({ tag: "ok" as const, value }),
      (err: Error) => ({ tag: "error" as const, value: err.message }),
    );
    migrationDirectories.push({ path: entry.name, migrationFile: { path: file, content } });
  }
  return { baseDir, lockfile: { path: lockPath, content: lockContent }, shadowDbInitScript, migrationDirectories };
}

/**
 * The prisma/ folder (schema.prisma and migrations/): beside the bundle in a production build
 * (apps/broker/scripts/build.mjs copies it there), else the repository's.
 */
export const PRISMA_DIR = [new URL("./prisma/", import.meta.url), new URL("../../../prisma/", import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(path.join(dir, "schema.prisma"))) ?? fileURLToPath(new URL("../../../prisma/", import.meta.url));
export const SCHEMA_PATH = path.join(PRISMA_DIR, "schema.prisma");
export const MIGRATIONS_DIR = path.join(PRISMA_DIR, "migrations");

export interface MigrateResult {
  /** Names applied by this call; empty when the database was already up to date. */
  applied: string[];
}

export interface MigrateOptions {
  schemaPath?: string;
  migrationsDir?: string;
}

// Serializes concurrent start-ups of several broker replicas on one Postgres.
const MIGRATE_LOCK = 7_241_930_201;

/**
 * `prisma migrate deploy`, without the native engine: applies pending migrations through
 * Prisma's WebAssembly schema engine, recording them in `_prisma_migrations` exactly as the CLI.
 */
export async function migrate(db: Pick<Db, "migrationAdapter" | "url" | "kind">, options: MigrateOptions = {}): Promise<MigrateResult> {
  const schemaPath = options.schemaPath ?? SCHEMA_PATH;
  const migrationsDir = options.migrationsDir ?? MIGRATIONS_DIR;
  const run = async () => {
    const schemaText = await readFile(schemaPath, "utf8");
    const engine = await loadSchemaEngine(schemaText, db.migrationAdapter(), { schemaFileName: path.basename(schemaPath) });
    try {
      const { appliedMigrationNames } = await engine.applyMigrations({
        migrationsList: await listMigrations(migrationsDir),
        filters: { externalTables: [], externalEnums: [] },
      });
      return { applied: appliedMigrationNames };
    } finally {
      await engine.dispose();
    }
  };
  if (db.kind !== "postgres" || !db.url) return run();
  const lock = new pg.Client({ connectionString: db.url });
  await lock.connect();
  try {
    await lock.query("SELECT pg_advisory_lock($1)", [MIGRATE_LOCK]);
    return await run();
  } finally {
    await lock.query("SELECT pg_advisory_unlock($1)", [MIGRATE_LOCK]).catch(() => {});
    await lock.end();
  }
}

/** Which migrations on disk are not (successfully) applied to the database. */
export async function migrationStatus(db: Pick<Db, "prisma">, migrationsDir = MIGRATIONS_DIR): Promise<{ pending: string[] }> {
  const onDisk = (await listMigrations(migrationsDir)).migrationDirectories.map((m) => m.path);
  const exists = await db.prisma.$queryRawUnsafe<{ t: string | null }[]>(`SELECT to_regclass('_prisma_migrations')::text AS t`);
  if (!exists[0]?.t) return { pending: onDisk };
  const rows = await db.prisma.$queryRawUnsafe<{ migration_name: string }[]>(
    `SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  const applied = new Set(rows.map((r) => r.migration_name));
  return { pending: onDisk.filter((name) => !applied.has(name)) };
}
