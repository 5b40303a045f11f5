// The ledger's rules at their edges: what another bank may do to a consent by its id, which
// transitions an ended consent still allows, and what the sweeper and the liveness checks answer
// on either side of an expiry.
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConsentLedger } from "../src/index.ts";
import { DAY, entryCount, makeLedger } from "./support.ts";

let db: TestDb;
let ledger: ConsentLedger;
let clock: Awaited<ReturnType<typeof makeLedger>>["clock"];
let n = 0;
const uniq = (p: string) => `${p}-${++n}`;

beforeAll(async () => {
  db = await createTestDb();
  ({ ledger, clock } = await makeLedger(db));
});
afterAll(async () => {
  await ledger?.close();
  await db?.drop();
});

async function grantOne(over: Partial<Parameters<ConsentLedger["grant"]>[0]> = {}) {
  return ledger.grant({ clientId: "bank-a", subject: uniq("cust"), linkId: uniq("link"), psid: uniq("psid"), scopes: ["balance:read"], actor: "customer", ...over });
}

describe("another bank's consent, named by its id", () => {
  it("cannot be renewed, withdrawn or given again by another bank, and nothing is written", async () => {
    const g = await grantOne();
    const subject = (await ledger.get(g.consentId)).consent.subject;
    const before = await entryCount(db);
    const otherBank = { clientId: "bank-b" };
    await expect(ledger.renew({ consentId: g.consentId, actor: "bank" }, otherBank)).rejects.toMatchObject({ code: "unknown_consent", status: 404 });
    await expect(ledger.withdraw({ consentId: g.consentId, actor: "bank" }, otherBank)).rejects.toMatchObject({ code: "unknown_consent", status: 404 });
    await expect(ledger.reconsent({ consentId: g.consentId, clientId: "bank-b", subject, scopes: ["balance:read"], actor: "customer" })).rejects.toMatchObject({ code: "unknown_consent" });
    expect(await entryCount(db)).toBe(before);
    expect(await ledger.isActive(g.consentId)).toBe(true);
    // Its own bank still can.
    expect((await ledger.renew({ consentId: g.consentId, actor: "bank", expiresAt: new Date(g.expiresAt.getTime() + DAY) }, { clientId: "bank-a" })).consentId).toBe(g.consentId);
    expect((await ledger.withdraw({ consentId: g.consentId, actor: "bank" }, { clientId: "bank-a" })).changed).toBe(true);
  });

  it("is unknown whatever the id looks like", async () => {
    for (const consentId of ["", "   ", "x".repeat(513), "\uD800", undefined as unknown as string]) {
      await expect(ledger.withdraw({ consentId, actor: "bank" })).rejects.toMatchObject({ code: "unknown_consent" });
      await expect(ledger.get(consentId)).rejects.toMatchObject({ code: "unknown_consent" });
    }
    expect(await ledger.isActive("no-such-consent")).toBe(false);
  });
});

describe("an expired consent before the sweeper has written `expired`", () => {
  it("is expired to withdraw, renew, check and the liveness checks, from the moment its expiry passes", async () => {
    const expiresAt = new Date(clock.now().getTime() + DAY);
    const g = await grantOne({ expiresAt });
    const who = { linkId: (await ledger.get(g.consentId)).consent.linkId! };
    expect(ledger.activeUntilOf({ status: "active", expiresAt })).toEqual(expiresAt);
    expect(await ledger.isActive(g.consentId)).toBe(true);
    clock.set(expiresAt);
    expect(ledger.activeUntilOf({ status: "active", expiresAt })).toBeUndefined();
    expect(await ledger.isActive(g.consentId)).toBe(false);
    expect(await ledger.check(who, { scope: "balance:read" })).toEqual({ allowed: false, consentId: g.consentId, expiresAt, reason: "expired" });
    const before = await entryCount(db);
    expect(await ledger.withdraw({ consentId: g.consentId, actor: "customer" })).toEqual({ consentId: g.consentId, changed: false, state: "expired", message: "no-op: already expired" });
    await expect(ledger.renew({ consentId: g.consentId, actor: "customer", expiresAt: new Date(expiresAt.getTime() + DAY) })).rejects.toMatchObject({ code: "not_active", status: 409 });
    expect(await entryCount(db)).toBe(before);
  });

  it("answers for a withdrawn or unknown consent row without reading anything", () => {
    const future = new Date(clock.now().getTime() + DAY);
    expect(ledger.activeUntilOf({ status: "withdrawn", expiresAt: future })).toBeUndefined();
    expect(ledger.activeUntilOf({ status: "expired", expiresAt: future })).toBeUndefined();
    expect(ledger.activeUntilOf(null)).toBeUndefined();
    expect(ledger.activeUntilOf(undefined)).toBeUndefined();
  });
});

describe("the sweeper", () => {
  it("expires only active consents whose expiry has passed, each once, as `system`", async () => {
    await ledger.sweepExpired(); // what earlier tests left lapsed
    const lapsing = await grantOne({ expiresAt: new Date(clock.now().getTime() + 1000) });
    const withdrawnLapsing = await grantOne({ expiresAt: new Date(clock.now().getTime() + 1000) });
    const lasting = await grantOne({ expiresAt: new Date(clock.now().getTime() + DAY) });
    await ledger.withdraw({ consentId: withdrawnLapsing.consentId, actor: "customer" });
    clock.advance(1000);
    expect(await ledger.sweepExpired()).toBe(1);
    expect(await ledger.sweepExpired()).toBe(0);
    const actions = async (id: string) => (await ledger.get(id)).entries.map((e) => [e.action, e.actor]);
    expect(await actions(lapsing.consentId)).toEqual([
      ["granted", "customer"],
      ["expired", "system"],
    ]);
    expect(await actions(withdrawnLapsing.consentId)).toEqual([
      ["granted", "customer"],
      ["withdrawn", "customer"],
    ]);
    expect(await actions(lasting.consentId)).toEqual([["granted", "customer"]]);
    expect((await ledger.get(lasting.consentId)).consent.status).toBe("active");
  });
});

describe("check", () => {
  it("refuses an instant that is not a date", async () => {
    const g = await grantOne();
    const who = { linkId: (await ledger.get(g.consentId)).consent.linkId! };
    for (const at of [new Date(Number.NaN), "2026-03-01" as unknown as Date]) await expect(ledger.check(who, { scope: "balance:read", at })).rejects.toMatchObject({ code: "invalid_request" });
  });
});
