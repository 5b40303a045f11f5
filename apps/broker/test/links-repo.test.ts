import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createLinksRepo, type LinksRepo } from "../src/links/links-repo.ts";

// The links' store on a real database: which rows each query sees (a bank only its own links),
// and the one-way, once-only transition to unlinked.
let db: TestDb;
let repo: LinksRepo;
const now = new Date("2030-01-01T00:00:00Z");

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db?.drop());
beforeEach(async () => {
  await db.prisma.link.deleteMany({});
  repo = createLinksRepo(db);
});

/** A link row as the linking flow leaves it. */
async function row(id: string, data: { clientId?: string; subject?: string; psid?: string; status?: "active" | "unlinked"; consentId?: string | null; createdAt?: Date }) {
  return db.prisma.link.create({ data: { id, clientId: "bank-a", subject: "cust", psid: "psid-1", status: "active", consentId: `consent-${id}`, ...data } });
}
const activate = (key: Partial<{ clientId: string; subject: string; psid: string }> = {}) => db.transaction((tx) => repo.activate(tx, { clientId: "bank-a", subject: "cust", psid: "psid-1", ...key }));

describe("activate", () => {
  it("makes a new active link, then finds the same one active again", async () => {
    const first = await activate();
    expect(first.wasActive).toBe(false);
    expect(first.link).toMatchObject({ clientId: "bank-a", subject: "cust", psid: "psid-1", status: "active", consentId: null, unlinkedAt: null, unlinkedBy: null });
    expect(first.link.createdAt).toBeInstanceOf(Date);
    expect(first.link.updatedAt).toBeInstanceOf(Date);
    expect(await repo.find(first.link.id)).toMatchObject({ status: "active", createdAt: first.link.createdAt });

    const again = await activate();
    expect(again).toMatchObject({ wasActive: true, link: { id: first.link.id, status: "active", unlinkedAt: null } });
    // Another customer, PSID or bank is another link.
    for (const key of [{ subject: "cust-2" }, { psid: "psid-2" }, { clientId: "bank-b" }]) {
      const other = await activate(key);
      expect(other.wasActive).toBe(false);
      expect(other.link.id).not.toBe(first.link.id);
    }
  });

  it("re-linking an unlinked link reuses its row, active again, its unlinking cleared", async () => {
    const { link } = await activate();
    expect((await repo.markUnlinked(link.id, "bank", now)).changed).toBe(true);
    const again = await activate();
    expect(again.wasActive).toBe(false);
    expect(again.link).toMatchObject({ id: link.id, status: "active", unlinkedAt: null, unlinkedBy: null });
    expect(await repo.find(link.id)).toMatchObject({ status: "active", unlinkedAt: null, unlinkedBy: null });
  });
});

describe("reads", () => {
  it("listByPsid: the client's links for that PSID, oldest first, whatever their status; never another bank's", async () => {
    // Neither the order of ids nor the order of insertion is the order of creation.
    await row("l-a", { subject: "s1", createdAt: new Date("2030-01-02T00:00:00Z"), status: "unlinked" });
    await row("l-c", { subject: "s2", createdAt: new Date("2030-01-01T00:00:00Z") });
    await row("l-b", { subject: "s3", createdAt: new Date("2030-01-03T00:00:00Z") });
    await row("l-other-bank", { clientId: "bank-b", subject: "s1" });
    await row("l-other-psid", { psid: "psid-2" });
    expect((await repo.listByPsid("bank-a", "psid-1")).map((l) => l.id)).toEqual(["l-c", "l-a", "l-b"]);
    expect((await repo.listByPsid("bank-b", "psid-1")).map((l) => l.id)).toEqual(["l-other-bank"]);
    expect(await repo.listByPsid("bank-c", "psid-1")).toEqual([]);
  });

  it("listByPsid answers at most 100 links", async () => {
    await db.prisma.link.createMany({ data: Array.from({ length: 101 }, (_, i) => ({ id: `l-${i}`, clientId: "bank-a", subject: `s-${i}`, psid: "psid-1" })) });
    expect(await repo.listByPsid("bank-a", "psid-1")).toHaveLength(100);
  });

  it("activeBySubject and activeByPsid: the client's active links only", async () => {
    await row("l-1", { subject: "cust", psid: "psid-1" });
    await row("l-2", { subject: "cust", psid: "psid-2" });
    await row("l-3", { subject: "cust", psid: "psid-3", status: "unlinked" });
    await row("l-4", { subject: "other", psid: "psid-1" });
    await row("l-5", { clientId: "bank-b", subject: "cust", psid: "psid-1" });
    const ids = (links: { id: string }[]) => links.map((l) => l.id).sort();
    expect(ids(await repo.activeBySubject("bank-a", "cust"))).toEqual(["l-1", "l-2"]);
    expect(ids(await repo.activeBySubject("bank-b", "cust"))).toEqual(["l-5"]);
    expect(ids(await repo.activeByPsid("bank-a", "psid-1"))).toEqual(["l-1", "l-4"]);
    expect(ids(await repo.activeByPsid("bank-a", "psid-3"))).toEqual([]);
    expect(ids(await repo.activeByPsid("bank-b", "psid-1"))).toEqual(["l-5"]);
  });

  it("activeWithConsent: active links holding a consent, by id, in keyset pages", async () => {
    await row("l-4", {});
    await row("l-1", { psid: "psid-9" });
    await row("l-2", { consentId: null, psid: "psid-2" });
    await row("l-3", { status: "unlinked", psid: "psid-3" });
    await row("l-5", { clientId: "bank-b" });
    expect(await repo.activeWithConsent(undefined, 10)).toEqual([
      { id: "l-1", consentId: "consent-l-1" },
      { id: "l-4", consentId: "consent-l-4" },
      { id: "l-5", consentId: "consent-l-5" },
    ]);
    expect(await repo.activeWithConsent(undefined, 2)).toEqual([
      { id: "l-1", consentId: "consent-l-1" },
      { id: "l-4", consentId: "consent-l-4" },
    ]);
    expect(await repo.activeWithConsent("l-4", 2)).toEqual([{ id: "l-5", consentId: "consent-l-5" }]);
    expect(await repo.activeWithConsent("l-5", 2)).toEqual([]);
  });
});

describe("markUnlinked", () => {
  it("active → unlinked once, with its actor and time, running the extra step only then", async () => {
    await row("l-1", {});
    let ran = 0;
    const also = async () => ++ran;
    expect(await repo.markUnlinked("l-1", "bank", now, undefined, also)).toEqual({ changed: true, also: 1 });
    expect(await repo.find("l-1")).toMatchObject({ status: "unlinked", unlinkedAt: now, unlinkedBy: "bank" });
    expect(await repo.markUnlinked("l-1", "messenger", now, undefined, also)).toEqual({ changed: false });
    expect(ran).toBe(1);
    expect((await repo.find("l-1"))?.unlinkedBy).toBe("bank");
    expect(await repo.markUnlinked("l-9", "bank", now)).toEqual({ changed: false });
  });

  it("with a consent: only while the link still holds it", async () => {
    await row("l-1", { consentId: "c-new" });
    expect(await repo.markUnlinked("l-1", "system", now, "c-old")).toEqual({ changed: false });
    expect((await repo.find("l-1"))?.status).toBe("active");
    expect(await repo.markUnlinked("l-1", "system", now, "c-new")).toEqual({ changed: true, also: undefined });
    expect((await repo.find("l-1"))?.status).toBe("unlinked");
  });

  it("the extra step runs in the unlink's transaction: if it fails, the link stays active", async () => {
    await row("l-1", {});
    await expect(
      repo.markUnlinked("l-1", "bank", now, undefined, async (tx) => {
        await tx.link.update({ where: { id: "l-1" }, data: { subject: "changed-in-tx" } });
        throw new Error("enqueue failed");
      }),
    ).rejects.toThrow("enqueue failed");
    expect(await repo.find("l-1")).toMatchObject({ status: "active", subject: "cust", unlinkedAt: null });
  });
});
