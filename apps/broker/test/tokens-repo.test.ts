import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLinksRepo } from "../src/links/links-repo.ts";
import { createTokensRepo } from "../src/oauth/token/tokens-repo.ts";

// The code exchange's last read on a real database: after its grant is written, the consent's
// status and expiry, and whether the link is active and holds exactly that consent.
let db: TestDb;
const expiresAt = new Date("2030-03-01T10:20:30.456Z");

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db?.drop());
beforeEach(async () => {
  await db.prisma.link.deleteMany({});
  await db.prisma.consent.deleteMany({});
});

const consent = (id: string, status: string) =>
  db.prisma.consent.create({ data: { id, clientId: "bank-a", subject: "cust", status, scopes: ["balance:read"], purposes: ["account_servicing"], expiresAt, grantedAt: new Date("2030-01-01T00:00:00Z"), updatedAt: new Date("2030-01-01T00:00:00Z"), lastSeq: 1n } });
const link = (id: string, consentId: string | null, status: "active" | "unlinked" = "active") =>
  db.prisma.link.create({ data: { id, clientId: "bank-a", subject: "cust", psid: `psid-${id}`, status, consentId } });

describe("findStanding", () => {
  it("reads the consent's status and expiry (UTC), and holds only for an active link holding exactly that consent", async () => {
    const repo = createTokensRepo(db);
    await consent("c-1", "active");
    await consent("c-2", "withdrawn");
    await link("l-1", "c-1");
    await link("l-2", "c-2", "unlinked");
    expect(await repo.findStanding("c-1", "l-1")).toEqual({ consent: { status: "active", expiresAt }, linkHolds: true });
    expect(await repo.findStanding("c-2", "l-1")).toEqual({ consent: { status: "withdrawn", expiresAt }, linkHolds: false });
    expect((await repo.findStanding("c-2", "l-2")).linkHolds).toBe(false);
    expect((await repo.findStanding("c-1", "l-9")).linkHolds).toBe(false);
    expect((await repo.findStanding("c-1", null)).linkHolds).toBe(false);
    // A re-link gives the link a new consent: the old consent's code no longer holds it.
    await db.transaction((tx) => createLinksRepo(db).setConsent(tx, "l-1", "c-3"));
    expect((await repo.findStanding("c-1", "l-1")).linkHolds).toBe(false);
  });

  it("answers an unknown consent as null", async () => {
    await link("l-1", "c-9");
    expect(await createTokensRepo(db).findStanding("c-9", "l-1")).toEqual({ consent: null, linkHolds: true });
  });
});
