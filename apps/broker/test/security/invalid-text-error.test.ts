import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { isInvalidTextError } from "../../src/plugins/invalid-text-error.ts";

// Finding 1's backstop: the database refusing a NUL byte is recognised as bad input (400), nothing else is.
describe(`isInvalidTextError on ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}`, () => {
  let db: TestDb;
  beforeAll(async () => {
    db = await createTestDb();
  });
  afterAll(() => db?.drop());

  it("recognises the database refusing a NUL byte in text, and nothing else", async () => {
    const refused = await db.prisma.client.findFirst({ where: { id: "a\u0000b" } }).catch((e: unknown) => e);
    expect(isInvalidTextError(refused)).toBe(true);
    const other = await db.prisma.$queryRawUnsafe("SELECT * FROM no_such_table").catch((e: unknown) => e);
    expect(other).toBeInstanceOf(Error);
    expect(isInvalidTextError(other)).toBe(false);
    expect(isInvalidTextError(new Error("x"))).toBe(false);
    expect(isInvalidTextError(undefined)).toBe(false);
  });
});
