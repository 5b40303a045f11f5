import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTotpRepo } from "../src/linking/totp-repo.ts";

// The second factor's rows through their prepared statements: the same record Prisma reads, field
// for field, whatever the process's time zone, and each conditional update holding its rule.
let db: TestDb;
const now = new Date("2030-01-01T10:00:00.250Z");
const later = (ms: number) => new Date(now.getTime() + ms);

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db?.drop());

describe("totp repo", () => {
  it("reads what Prisma reads, and a second create answers the factor already there", async () => {
    const zone = process.env.TZ;
    process.env.TZ = "Pacific/Auckland";
    try {
      const repo = createTotpRepo(db);
      const created = await repo.createPending({ id: "f-1", clientId: "bank-a", subject: "cust-1", secretSealed: "sealed-1", pendingAttemptId: "att-1" }, [{ id: "r-a", codeHash: "h-a" }]);
      expect(created).toEqual(await db.prisma.totpFactor.findUnique({ where: { id: "f-1" } }));
      // The concurrent request that lost: the factor there is answered, and its codes are not stored.
      const again = await repo.createPending({ id: "f-2", clientId: "bank-a", subject: "cust-1", secretSealed: "sealed-2", pendingAttemptId: "att-2" }, [{ id: "r-b", codeHash: "h-b" }]);
      expect(again).toMatchObject({ id: "f-1", secretSealed: "sealed-1", pendingAttemptId: "att-1" });
      expect(await db.prisma.totpRecoveryCode.findMany({ select: { id: true, factorId: true, codeHash: true, usedAt: true } })).toEqual([{ id: "r-a", factorId: "f-1", codeHash: "h-a", usedAt: null }]);

      expect(await repo.useStep("f-1", 66_000_001, now)).toBe(true);
      const used = await repo.find("bank-a", "cust-1");
      expect(used).toEqual(await db.prisma.totpFactor.findUnique({ where: { id: "f-1" } }));
      expect(used).toMatchObject({ lastUsedStep: 66_000_001n, confirmedAt: now, failedCount: 0 });
      expect(await repo.find("bank-a", "absent")).toBeNull();
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it("accepts a time step once, claims tries up to the limit, and refuses both while locked", async () => {
    const repo = createTotpRepo(db);
    await repo.createPending({ id: "f-3", clientId: "bank-a", subject: "cust-3", secretSealed: "sealed", pendingAttemptId: "att-3" }, []);
    expect(await repo.useStep("f-3", 100, now)).toBe(true);
    expect(await repo.useStep("f-3", 100, now)).toBe(false);
    expect(await repo.useStep("f-3", 99, now)).toBe(false);
    // A claim answers the factor as claimed: what Prisma reads after it.
    const claimed = await repo.claimTry("bank-a", "cust-3", 2, now);
    expect(claimed).toEqual(await db.prisma.totpFactor.findUnique({ where: { id: "f-3" } }));
    expect(claimed).toMatchObject({ id: "f-3", failedCount: 1, secretSealed: "sealed", lastUsedStep: 100n });
    expect((await repo.claimTry("bank-a", "cust-3", 2, now))?.failedCount).toBe(2);
    expect(await repo.claimTry("bank-a", "cust-3", 2, now)).toBeUndefined();
    await repo.lockSpent("f-3", 2, later(60_000));
    expect(await repo.claimTry("bank-a", "cust-3", 2, now)).toBeUndefined();
    expect(await repo.useStep("f-3", 101, now)).toBe(false);
    // Another customer's factor, or none, is never claimed.
    expect(await repo.claimTry("bank-a", "cust-absent", 2, later(60_000))).toBeUndefined();
    expect(await repo.claimTry("bank-b", "cust-3", 2, later(60_000))).toBeUndefined();
    // The lock ends at its time.
    expect((await repo.claimTry("bank-a", "cust-3", 2, later(60_000)))?.failedCount).toBe(1);
    expect(await repo.useStep("f-3", 101, later(60_000))).toBe(true);
  });

  it("replaces a factor's recovery codes in one statement", async () => {
    const repo = createTotpRepo(db);
    await repo.createPending({ id: "f-4", clientId: "bank-a", subject: "cust-4", secretSealed: "sealed", pendingAttemptId: "att-4" }, [{ id: "r-0", codeHash: "h-0" }]);
    await repo.replaceRecoveryCodes("f-4", [{ id: "r-1", codeHash: "h-1" }, { id: "r-2", codeHash: "h-2" }]);
    await repo.replaceRecoveryCodes("f-4", [{ id: "r-3", codeHash: "h-3" }]);
    expect(await db.prisma.totpRecoveryCode.findMany({ where: { factorId: "f-4" }, select: { id: true, codeHash: true } })).toEqual([{ id: "r-3", codeHash: "h-3" }]);
    expect(await repo.useRecoveryCode("f-4", "h-3", now)).toBe(true);
    expect(await repo.useRecoveryCode("f-4", "h-3", now)).toBe(false);
  });
});
