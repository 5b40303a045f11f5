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
    // A withdrawal without a reason records no reason.
    expect((await ledger.get(g.consentId)).entries.map((e) => e.evidence)).toEqual([{}, {}, {}]);
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
    expect((await ledger.get(lapsing.consentId)).entries[1]!.evidence).toEqual({ reason: "expires_at passed" });
  });
});

describe("check", () => {
  it("refuses an instant that is not a date", async () => {
    const g = await grantOne();
    const who = { linkId: (await ledger.get(g.consentId)).consent.linkId! };
    for (const at of [new Date(Number.NaN), "2026-03-01" as unknown as Date]) await expect(ledger.check(who, { scope: "balance:read", at })).rejects.toMatchObject({ code: "invalid_request" });
  });
});

describe("bad input", () => {
  it("is a bad request, not a crash, when the input itself is missing", async () => {
    await expect(ledger.withdraw(undefined as never)).rejects.toMatchObject({ code: "invalid_request" });
    await expect(ledger.renew(undefined as never)).rejects.toMatchObject({ code: "invalid_request" });
    await expect(ledger.check({ linkId: "l" }, undefined as never)).rejects.toMatchObject({ code: "invalid_scope" });
  });
});

describe("renewal", () => {
  it("must move the expiry later: the same expiry is refused and writes nothing", async () => {
    const g = await grantOne({ expiresAt: new Date(clock.now().getTime() + 10 * DAY) });
    const before = await entryCount(db);
    await expect(ledger.renew({ consentId: g.consentId, actor: "customer", expiresAt: g.expiresAt })).rejects.toMatchObject({ code: "invalid_expiry" });
    expect(await entryCount(db)).toBe(before);
    const r = await ledger.renew({ consentId: g.consentId, actor: "customer", expiresAt: new Date(g.expiresAt.getTime() + 1) });
    expect(r.expiresAt.getTime()).toBe(g.expiresAt.getTime() + 1);
  });

  it("is seen at once by a warm check", async () => {
    const g = await grantOne({ expiresAt: new Date(clock.now().getTime() + DAY) });
    const who = { linkId: (await ledger.get(g.consentId)).consent.linkId! };
    expect((await ledger.check(who, { scope: "balance:read" })).allowed).toBe(true);
    await ledger.renew({ consentId: g.consentId, actor: "customer", expiresAt: new Date(clock.now().getTime() + 10 * DAY) });
    expect((await ledger.check(who, { scope: "balance:read", at: new Date(clock.now().getTime() + 2 * DAY) })).allowed).toBe(true);
  });
});

describe("reconsent decides renew or replace on the exact set of pairs", () => {
  const A = { scope: "balance:read", purpose: "account_servicing" };
  const B = { scope: "alerts:fraud", purpose: "fraud_alerts" };
  const C = { scope: "support:chat", purpose: "customer_support" };

  async function held(pairs: { scope: string; purpose: string }[]) {
    const subject = uniq("cust");
    const g = await grantOne({ subject, pairs });
    clock.advance(DAY); // so the default expiry of a reconsent is later than the held one
    const again = (over: Partial<Parameters<ConsentLedger["reconsent"]>[0]>) => ledger.reconsent({ consentId: g.consentId, clientId: "bank-a", subject, actor: "customer", ...over });
    return { g, again };
  }
  const actionsOf = async (id: string) => (await ledger.get(id)).entries.map((e) => e.action);

  it("renews on the same pairs, in any order", async () => {
    const { g, again } = await held([A, B]);
    expect((await again({ pairs: [B, A] })).consentId).toBe(g.consentId);
    expect(await actionsOf(g.consentId)).toEqual(["granted", "renewed"]);
  });

  it("replaces on more pairs, fewer pairs, or as many other pairs, however late the new expiry", async () => {
    for (const [had, asked] of [
      [[A], [A, B]],
      [[A, B], [A]],
      [[A, B], [A, C]],
      [[A], [C]],
    ]) {
      const { g, again } = await held(had!);
      const r = await again({ pairs: asked });
      expect(r.consentId, JSON.stringify([had, asked])).not.toBe(g.consentId);
      expect(await actionsOf(g.consentId)).toEqual(["granted", "withdrawn"]);
      expect((await ledger.get(r.consentId)).consent.pairs).toEqual([...asked!].sort((x, y) => (x.scope < y.scope ? -1 : 1)));
    }
  });

  it("replaces rather than renews when the expiry would not move later", async () => {
    const { g, again } = await held([A]);
    const r = await again({ pairs: [A], expiresAt: g.expiresAt });
    expect(r.consentId).not.toBe(g.consentId);
    expect(await actionsOf(g.consentId)).toEqual(["granted", "withdrawn"]);
  });

  it("grants anew over a withdrawn consent, even on the same pairs", async () => {
    const { g, again } = await held([A]);
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    const r = await again({ pairs: [A] });
    expect(r.consentId).not.toBe(g.consentId);
    expect(await actionsOf(g.consentId)).toEqual(["granted", "withdrawn"]);
    expect(await ledger.isActive(r.consentId)).toBe(true);
  });

  it("is seen at once by warm checks, under the new link too", async () => {
    const subject = uniq("cust");
    const g = await grantOne({ subject, pairs: [A] });
    const newLink = uniq("link");
    const who = { clientId: "bank-a", subject };
    expect((await ledger.check(who, { scope: "alerts:fraud" })).reason).toBe("scope_not_granted");
    expect((await ledger.check({ linkId: newLink }, { scope: "alerts:fraud" })).reason).toBe("no_consent");
    const r = await ledger.reconsent({ consentId: g.consentId, clientId: "bank-a", subject, linkId: newLink, pairs: [A, B], actor: "customer" });
    expect(await ledger.check(who, { scope: "alerts:fraud" })).toMatchObject({ allowed: true, consentId: r.consentId });
    expect(await ledger.check({ linkId: newLink }, { scope: "alerts:fraud" })).toMatchObject({ allowed: true, consentId: r.consentId });
  });
});

describe("this process's own changes, before the database's notification arrives", () => {
  // The notifications are held back: only the ledger's own invalidation, at commit, can make the
  // next check in this process see a change it just made (other processes wait for the NOTIFY).
  let own: ConsentLedger;
  beforeAll(async () => {
    ({ ledger: own } = await makeLedger(db, clock, undefined, { invalidations: async () => async () => {} }));
  });
  afterAll(() => own?.close());

  it("a renewal, a consent given again with new terms, and a withdrawal are seen by the very next check", async () => {
    const [linkId, psid, subject] = [uniq("link"), uniq("psid"), uniq("cust")];
    const g = await own.grant({ clientId: "bank-a", subject, linkId, psid, scopes: ["balance:read"], actor: "customer" });
    const byPsid = { clientId: "bank-a", psid };
    const check = (who: { linkId: string } | typeof byPsid) => own.check(who, { scope: "balance:read" });
    for (const who of [{ linkId }, byPsid]) {
      expect(await check(who)).toMatchObject({ allowed: true, consentId: g.consentId });
    }
    const hits = own.cacheStats().hits;
    expect(await check({ linkId })).toMatchObject({ allowed: true, consentId: g.consentId });
    expect(own.cacheStats().hits).toBe(hits + 1); // answered from the cache: what follows must not be

    const later = new Date(g.expiresAt.getTime() + DAY);
    await own.renew({ consentId: g.consentId, actor: "bank", expiresAt: later }, { clientId: "bank-a" });
    for (const who of [{ linkId }, byPsid]) expect(await check(who)).toMatchObject({ allowed: true, consentId: g.consentId, expiresAt: later });

    // Given again with new terms under a new link (a re-link), whose empty answer was cached.
    const [relink, newPsid] = [{ linkId: uniq("link") }, { clientId: "bank-a", psid: uniq("psid") }];
    for (const who of [relink, newPsid]) expect(await check(who)).toMatchObject({ allowed: false, reason: "no_consent" });
    const again = await own.reconsent({ consentId: g.consentId, clientId: "bank-a", subject, linkId: relink.linkId, psid: newPsid.psid, scopes: ["balance:read", "alerts:fraud"], actor: "customer" });
    expect(again.consentId).not.toBe(g.consentId);
    for (const who of [relink, newPsid]) expect(await own.check(who, { scope: "alerts:fraud" })).toMatchObject({ allowed: true, consentId: again.consentId });
    for (const who of [{ linkId }, byPsid]) expect(await check(who)).toMatchObject({ allowed: false, reason: "withdrawn", consentId: g.consentId });

    await own.withdraw({ consentId: again.consentId, actor: "customer" }, { clientId: "bank-a" });
    for (const who of [relink, newPsid]) expect(await check(who)).toMatchObject({ allowed: false, reason: "withdrawn" });
  });

  it("wakes this process's append listeners at commit, without the notification (consent events rely on it)", async () => {
    let heard = 0;
    const stop = own.onAppend(() => heard++);
    try {
      const g = await own.grant({ clientId: "bank-a", subject: uniq("cust"), scopes: ["balance:read"], actor: "customer" });
      expect(heard).toBe(1);
      await own.renew({ consentId: g.consentId, actor: "bank", expiresAt: new Date(g.expiresAt.getTime() + DAY) });
      await own.withdraw({ consentId: g.consentId, actor: "customer" });
      expect(heard).toBe(3);
      // A withdrawal that appends nothing wakes no one.
      await own.withdraw({ consentId: g.consentId, actor: "customer" });
      expect(heard).toBe(3);
    } finally {
      stop();
    }
  });
});
