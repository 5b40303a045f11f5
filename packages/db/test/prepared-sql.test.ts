import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../src/index.ts";
import { createTestDb, type TestDb } from "../src/testing.ts";

const onPostgres = !!process.env.DATABASE_URL;
const NOW = new Date("2026-03-01T23:30:00.123Z");

describe(`Db.sql on ${onPostgres ? "Postgres" : "PGlite"}`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  const insert = { name: "test_insert_refresh", text: `INSERT INTO refresh_token ("tokenHash", "grantId", "clientId", "dpopJkt", "expiresAt", "createdAt") VALUES ($1, $2, $3, $4, $5::timestamp(3), $6::timestamp(3)) RETURNING "tokenHash"` };
  const read = { name: "test_read_refresh", text: `SELECT "tokenHash", "dpopJkt", "expiresAt", "rotatedAt", "createdAt" FROM refresh_token WHERE "tokenHash" = $1` };

  it("writes and reads timestamp(3) columns as UTC, whatever the process's time zone", async () => {
    const zone = process.env.TZ;
    process.env.TZ = "America/New_York"; // pg's own parser would read the column in this zone
    try {
      expect(await db.sql(insert, ["tz", "g1", "bank", null, NOW, NOW])).toEqual([{ tokenHash: "tz" }]);
      const [row] = await db.sql<{ expiresAt: Date; rotatedAt: Date | null; createdAt: Date; dpopJkt: string | null }>(read, ["tz"]);
      expect(row?.expiresAt.toISOString()).toBe(NOW.toISOString());
      expect(row?.createdAt.toISOString()).toBe(NOW.toISOString());
      expect(row?.rotatedAt).toBeNull();
      expect(row?.dpopJkt).toBeNull();
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
    // Prisma reads the same instant from the row that Db.sql wrote.
    expect((await db.prisma.refreshToken.findUnique({ where: { tokenHash: "tz" } }))?.expiresAt.toISOString()).toBe(NOW.toISOString());
  });

  it("binds a string array to a text[] parameter, and reads it back as an array", async () => {
    const statement = { name: "test_grant_scopes", text: `INSERT INTO "grant" ("id", "clientId", "scopes", "createdAt") VALUES ($1, $2, $3::text[], $4::timestamp(3)) RETURNING "scopes"` };
    expect(await db.sql(statement, ["g-scopes", "bank", ["balance:read", "alerts:fraud"], NOW])).toEqual([{ scopes: ["balance:read", "alerts:fraud"] }]);
    expect(await db.sql(statement, ["g-none", "bank", [], NOW])).toEqual([{ scopes: [] }]);
  });

  it("reports a failed statement as an error and stays usable", async () => {
    await db.sql(insert, ["dup", "g1", "bank", null, NOW, NOW]);
    await expect(db.sql(insert, ["dup", "g1", "bank", null, NOW, NOW])).rejects.toThrow(/duplicate key/);
    expect(await db.sql(read, ["dup"])).toHaveLength(1);
    expect(await db.sql(read, ["absent"])).toEqual([]);
  });

  it.skipIf(!onPostgres)("prepares a named statement once per connection on Postgres", async () => {
    const one: Db = await createDb({ url: db.url, poolSize: 1 });
    try {
      await one.sql(read, ["absent"]);
      await one.sql(read, ["absent"]);
      const prepared = await one.sql<{ name: string }>({ name: "test_prepared", text: "SELECT name FROM pg_prepared_statements ORDER BY name" }, []);
      expect(prepared.map((p) => p.name)).toEqual(["test_prepared", "test_read_refresh"]);
    } finally {
      await one.close();
    }
  });

  describe("Db.transaction", () => {
    const count = { name: "test_count_refresh", text: `SELECT count(*)::int AS n FROM refresh_token WHERE "tokenHash" LIKE $1` };

    it("commits what its statements wrote when it returns, and each statement sees the ones before", async () => {
      const seen = await db.transaction(async (tx) => {
        await tx(insert, ["tx-1", "g1", "bank", null, NOW, NOW]);
        await tx(insert, ["tx-2", "g1", "bank", null, NOW, NOW]);
        return (await tx<{ n: number }>(count, ["tx-%"]))[0]?.n;
      });
      expect(seen).toBe(2);
      const [row] = await db.sql<{ expiresAt: Date }>(read, ["tx-1"]);
      expect(row?.expiresAt.toISOString()).toBe(NOW.toISOString());
    });

    it("rolls everything back when it throws, a failed statement included, and passes the error on", async () => {
      await expect(
        db.transaction(async (tx) => {
          await tx(insert, ["rb-1", "g1", "bank", null, NOW, NOW]);
          throw new Error("refused");
        }),
      ).rejects.toThrow("refused");
      await expect(
        db.transaction(async (tx) => {
          await tx(insert, ["rb-2", "g1", "bank", null, NOW, NOW]);
          await tx(insert, ["rb-2", "g1", "bank", null, NOW, NOW]);
        }),
      ).rejects.toThrow(/duplicate key/);
      expect((await db.sql<{ n: number }>(count, ["rb-%"]))[0]?.n).toBe(0);
    });

    it("fails without the values bound to the statement on the error: errors get logged, and a value may be a secret", async () => {
      const failed = await db.transaction((tx) => tx(insert, ["tx-1", "g1", "bank", null, NOW, NOW])).catch((e: unknown) => e);
      expect(failed).toBeInstanceOf(Error);
      expect(Object.keys(failed as object)).not.toContain("params");
      const alone = await db.sql(insert, ["tx-1", "g1", "bank", null, NOW, NOW]).catch((e: unknown) => e);
      expect(Object.keys(alone as object)).not.toContain("params");
    });

    it.skipIf(!onPostgres)("hands its connection back after a rollback: a pool of one still serves the next transaction", async () => {
      const one: Db = await createDb({ url: db.url, poolSize: 1 });
      try {
        await expect(one.transaction(() => Promise.reject(new Error("refused")))).rejects.toThrow("refused");
        expect(await one.transaction((tx) => tx<{ n: number }>(count, ["absent"]))).toEqual([{ n: 0 }]);
        // Outside a transaction again: a write on that connection is committed at once, so another
        // connection sees it (inside a stale transaction it would not be).
        await one.sql(insert, ["after-rb", "g1", "bank", null, NOW, NOW]);
        expect(await db.sql(read, ["after-rb"])).toHaveLength(1);
      } finally {
        await one.close();
      }
    });

    it.skipIf(!onPostgres)("fails, without ending the process, when its connection dies mid-transaction; the pool then opens a new one", async () => {
      const one: Db = await createDb({ url: db.url, poolSize: 1 });
      try {
        // The server ends this transaction's own connection, as a crash or failover would.
        const kill = { name: "test_kill_self", text: "SELECT pg_terminate_backend(pg_backend_pid())" };
        await expect(
          one.transaction(async (tx) => {
            await tx(insert, ["dies-1", "g1", "bank", null, NOW, NOW]);
            await tx(kill, []);
          }),
        ).rejects.toThrow(/terminat/);
        expect(await db.sql(read, ["dies-1"])).toEqual([]);
        expect(await one.transaction((tx) => tx<{ n: number }>(count, ["absent"]))).toEqual([{ n: 0 }]);
      } finally {
        await one.close();
      }
    });
  });
});
