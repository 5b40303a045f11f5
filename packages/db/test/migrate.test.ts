import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkDrift, createDb, migrate, migrationStatus, MIGRATIONS_DIR, SCHEMA_PATH } from "../src/index.ts";
import { createTestDb, type TestDb } from "../src/testing.ts";

describe(`migrations on ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb(); // fresh database, migrated once
  });
  afterAll(() => db?.drop());

  it("records _prisma_migrations as `prisma migrate deploy` does, and a second run applies nothing", async () => {
    const rows = await db.prisma.$queryRawUnsafe<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number }[]>(
      `SELECT migration_name, checksum, finished_at, applied_steps_count FROM _prisma_migrations ORDER BY migration_name`,
    );
    const { pending } = await migrationStatus(db);
    expect(pending).toEqual([]);
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) {
      const sql = readFileSync(join(MIGRATIONS_DIR, row.migration_name, "migration.sql"));
      expect(row.checksum).toBe(createHash("sha256").update(sql).digest("hex"));
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.applied_steps_count).toBe(1);
    }
    expect(await migrate(db)).toEqual({ applied: [] });
  });

  it("refuses UPDATE, DELETE and TRUNCATE on the ledger at the database", async () => {
    await db.prisma.ledgerEntry.create({
      data: {
        consentId: "c1", action: "granted", clientId: "bank", subject: "cust-1", scopes: ["balance:read"], purposes: ["account_servicing"],
        expiresAt: new Date(Date.now() + 86_400_000), actor: "customer", recordedAt: new Date(), prevHash: "0".repeat(64), hash: "a".repeat(64),
      },
    });
    await expect(db.prisma.$executeRawUnsafe(`UPDATE ledger_entry SET actor = 'x'`)).rejects.toThrow(/append-only/);
    await expect(db.prisma.$executeRawUnsafe(`DELETE FROM ledger_entry`)).rejects.toThrow(/append-only/);
    await expect(db.prisma.$executeRawUnsafe(`TRUNCATE ledger_entry`)).rejects.toThrow(/append-only/);
    await expect(db.prisma.ledgerEntry.updateMany({ data: { actor: "x" } })).rejects.toThrow();
    expect(await db.prisma.ledgerEntry.count()).toBe(1);
  });
});

describe("schema.prisma and the SQL migrations", () => {
  it("describe the same schema (drift check)", async () => {
    const scratch = await createDb({ url: "memory://" });
    try {
      const { drift, summary } = await checkDrift({ adapterFactory: scratch.migrationAdapter(), schemaPath: SCHEMA_PATH, migrationsDir: MIGRATIONS_DIR });
      expect(drift, summary).toBe(false);
    } finally {
      await scratch.close();
    }
  }, 120_000); // applies every migration in the WebAssembly schema engine: slow on a loaded machine

  it("reports a schema change that has no migration yet", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-drift-"));
    const changed = join(dir, "schema.prisma");
    writeFileSync(changed, readFileSync(SCHEMA_PATH, "utf8").replace("model Staff {", "model Staff {\n  nickname String?"));
    const scratch = await createDb({ url: "memory://" });
    try {
      const { drift, summary } = await checkDrift({ adapterFactory: scratch.migrationAdapter(), schemaPath: changed, migrationsDir: MIGRATIONS_DIR });
      expect(drift).toBe(true);
      expect(summary).toMatch(/staff/);
    } finally {
      await scratch.close();
    }
  });
});

describe("PGlite in a folder", () => {
  it("keeps data across restarts and migrates only once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lb-pglite-"));
    const first = await createDb({ url: dir });
    expect((await migrate(first)).applied.length).toBeGreaterThan(0);
    await first.prisma.staff.create({ data: { id: "s1", email: "a@bank.example", passwordHash: "x", role: "auditor" } });
    await first.close();

    const second = await createDb({ url: dir });
    try {
      expect(await migrate(second)).toEqual({ applied: [] });
      expect(await second.prisma.staff.findUnique({ where: { id: "s1" } })).toMatchObject({ email: "a@bank.example" });
    } finally {
      await second.close();
    }
  });
});
