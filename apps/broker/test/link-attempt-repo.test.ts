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

  it("a transition moves only from its state, while the attempt is live, and keeps the columns it does not change", async () => {
    const repo = createLinkAttemptRepo(db);
    await repo.create({
      id: "att-2", bindingHash: "b".repeat(64), clientId: "bank-a", psid: "psid-2", redirectUri: "https://bank.example/cb",
      scopes: ["balance:read"], optionalScopes: [], purposes: ["account_servicing"], durationDays: 30,
      codeChallenge: "c".repeat(43), expiresAt: new Date(now.getTime() + 600_000), requestId: "req-2", oidcStateHash: "t".repeat(64), oidcNonceSealed: "nonce", oidcVerifierSealed: "verifier",
    });
    await expect(repo.transition("att-2", "authenticated", "second_factor_passed", now)).rejects.toMatchObject({ reason: "wrong_state" });
    await expect(repo.transition("absent", "started", "authenticated", now)).rejects.toMatchObject({ reason: "not_found" });
    await expect(repo.transition("att-2", "started", "authenticated", new Date(now.getTime() + 600_000), { bankSubject: "late" })).rejects.toMatchObject({ reason: "expired" });
    expect(await repo.find("att-2")).toMatchObject({ state: "started", bankSubject: null });
    await repo.transition("att-2", "started", "authenticated", now, { bankSubject: "cust-2" });
    await repo.transition("att-2", "authenticated", "failed", now, { failureReason: "second_factor_locked" });
    expect(await repo.find("att-2")).toMatchObject({ state: "failed", bankSubject: "cust-2", failureReason: "second_factor_locked", oidcNonceSealed: "nonce", requestId: "req-2", updatedAt: now });
  });

  it("a transition inside a transaction follows the same rules, and is undone with it", async () => {
    const repo = createLinkAttemptRepo(db);
    await repo.create({
      id: "att-3", bindingHash: "b".repeat(64), clientId: "bank-a", psid: "psid-3", redirectUri: "https://bank.example/cb",
      scopes: ["balance:read"], optionalScopes: [], purposes: ["account_servicing"], durationDays: 30,
      codeChallenge: "c".repeat(43), expiresAt: new Date(now.getTime() + 600_000), requestId: null, oidcStateHash: "u".repeat(64), oidcNonceSealed: "nonce", oidcVerifierSealed: "verifier",
    });
    await repo.transition("att-3", "started", "authenticated", now, { bankSubject: "cust-3" });
    await repo.transition("att-3", "authenticated", "second_factor_passed", now, { secondFactorMethod: "totp", secondFactorAt: now });
    await expect(repo.inTransaction((tx) => repo.transition("att-3", "consented", "code_issued", now, { linkId: "l-3" }, tx))).rejects.toMatchObject({ reason: "wrong_state" });
    await expect(
      repo.inTransaction(async (tx) => {
        await repo.transition("att-3", "second_factor_passed", "consented", now, {}, tx);
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    expect(await repo.find("att-3")).toMatchObject({ state: "second_factor_passed" });
    await repo.inTransaction(async (tx) => {
      await repo.transition("att-3", "second_factor_passed", "consented", now, {}, tx);
      await repo.transition("att-3", "consented", "code_issued", now, { linkId: "l-3" }, tx);
    });
    expect(await repo.find("att-3")).toMatchObject({ state: "code_issued", linkId: "l-3", bankSubject: "cust-3", secondFactorMethod: "totp", secondFactorAt: now, updatedAt: now });
  });

  it("find nothing for an unknown id or state hash", async () => {
    const repo = createLinkAttemptRepo(db);
    expect(await repo.find("absent")).toBeNull();
    expect(await repo.findByStateHash("absent")).toBeNull();
  });
});
