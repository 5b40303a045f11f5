import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLinkAttemptRepo } from "../src/linking/link-attempt-repo.ts";

// The attempt every linking step reads, through its prepared statements: the same record Prisma
// reads, field for field, whatever the process's time zone.
let db: TestDb;
const now = new Date("2030-01-01T10:00:00.250Z");

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db?.drop());

describe("link attempt reads", () => {
  it("find and findByStateHash read what Prisma reads, field for field", async () => {
    const zone = process.env.TZ;
    process.env.TZ = "Pacific/Auckland";
    try {
      const repo = createLinkAttemptRepo(db);
      await repo.create({
        id: "att-1", bindingHash: "b".repeat(64), clientId: "bank-a", psid: "psid-1", redirectUri: "https://bank.example/cb",
        scopes: ["balance:read"], optionalScopes: ["alerts:fraud", "support:chat"], purposes: ["account_servicing"], durationDays: 90,
        codeChallenge: "c".repeat(43), expiresAt: new Date(now.getTime() + 600_000), requestId: null, oidcStateHash: "s".repeat(64), oidcNonceSealed: "nonce", oidcVerifierSealed: "verifier",
      });
      const fresh = await repo.find("att-1");
      expect(fresh).toEqual(await db.prisma.linkAttempt.findUnique({ where: { id: "att-1" } }));
      expect(fresh).toMatchObject({ state: "started", durationDays: 90, secondFactorAt: null, expiresAt: new Date(now.getTime() + 600_000) });

      await repo.transition("att-1", "started", "authenticated", now, { bankSubject: "cust-1" });
      await repo.transition("att-1", "authenticated", "second_factor_passed", now, { secondFactorMethod: "totp", secondFactorAt: now });
      const later = await repo.findByStateHash("s".repeat(64));
      expect(later).toEqual(await db.prisma.linkAttempt.findUnique({ where: { id: "att-1" } }));
      expect(later).toMatchObject({ state: "second_factor_passed", bankSubject: "cust-1", secondFactorAt: now });
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });

  it("find nothing for an unknown id or state hash", async () => {
    const repo = createLinkAttemptRepo(db);
    expect(await repo.find("absent")).toBeNull();
    expect(await repo.findByStateHash("absent")).toBeNull();
  });
});
