// One contract suite for the ledger, run on PGlite and (with DATABASE_URL) on Postgres.
import { createHash } from "node:crypto";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { compactVerify, createLocalJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entryToWire, LedgerError, pseudonymousSubject, type ConsentLedger } from "../src/index.ts";
import { DAY, entryCount, makeLedger, type TestKeys } from "./support.ts";

let db: TestDb;
let ledger: ConsentLedger;
let clock: Awaited<ReturnType<typeof makeLedger>>["clock"];
let keys: TestKeys;
let n = 0;
const uniq = (p: string) => `${p}-${++n}`;

beforeAll(async () => {
  db = await createTestDb();
  ({ ledger, clock, keys } = await makeLedger(db));
  await db.prisma.client.create({ data: { id: "bank-a", name: "Bank A", registrationTokenHash: "x1", tokenEndpointAuthMethod: "client_secret_basic" } });
});
afterAll(async () => {
  await ledger?.close();
  await db?.drop();
});

async function grantOne(over: Partial<Parameters<ConsentLedger["grant"]>[0]> = {}) {
  return ledger.grant({ clientId: "bank-a", subject: uniq("cust"), linkId: uniq("link"), psid: uniq("psid"), scopes: ["balance:read"], actor: "customer", evidence: { second_factor: "totp", request_id: "r1" }, ...over });
}

describe("grant", () => {
  it("defaults purposes per scope and the duration to 90 days", async () => {
    const g = await grantOne({ scopes: ["balance:read", "alerts:fraud"] });
    expect(g.purposes).toEqual(["account_servicing", "fraud_alerts"]);
    expect(g.expiresAt.getTime() - clock.now().getTime()).toBe(90 * DAY);
    const { consent, entries } = await ledger.get(g.consentId);
    expect(consent.status).toBe("active");
    expect(entries.map((e) => e.action)).toEqual(["granted"]);
    expect(entries[0]!.evidence).toEqual({ second_factor: "totp", request_id: "r1" });
  });

  it("joins the caller's transaction: a rollback leaves no entry, a commit keeps it", async () => {
    const before = await entryCount(db);
    await expect(
      db.transaction(async (tx) => {
        await ledger.grant({ clientId: "bank-a", subject: "tx-cust", scopes: ["balance:read"], actor: "customer" }, { tx });
        throw new Error("rollback");
      }),
    ).rejects.toThrow("rollback");
    expect(await entryCount(db)).toBe(before);
    const id = await db.transaction(async (tx) => (await ledger.grant({ clientId: "bank-a", subject: "tx-cust", scopes: ["balance:read"], actor: "customer" }, { tx })).consentId);
    expect((await ledger.get(id)).entries).toHaveLength(1);
    expect((await ledger.verify()).ok).toBe(true);
  });

  const bad: [string, string, () => Promise<unknown>][] = [
    ["an unknown scope", "invalid_scope", () => grantOne({ scopes: ["balance:write"] })],
    ["no scope", "invalid_scope", () => grantOne({ scopes: [] })],
    ["a forbidden purpose (advertising)", "purpose_forbidden", () => grantOne({ purposes: ["advertising"] })],
    ["a forbidden purpose (marketing)", "purpose_forbidden", () => grantOne({ purposes: ["account_servicing", "marketing"] })],
    ["a forbidden purpose (profiling)", "purpose_forbidden", () => grantOne({ purposes: ["profiling"] })],
    ["a forbidden purpose in capitals (Advertising)", "purpose_forbidden", () => grantOne({ purposes: ["Advertising"] })],
    ["an unknown purpose", "invalid_purpose", () => grantOne({ purposes: ["resale"] })],
    ["an expiry in the past", "invalid_expiry", () => grantOne({ expiresAt: new Date(clock.now().getTime() - 1000) })],
    ["an expiry over 365 days", "invalid_expiry", () => grantOne({ expiresAt: new Date(clock.now().getTime() + 366 * DAY) })],
    ["an expiry that is not a date", "invalid_expiry", () => grantOne({ expiresAt: new Date(Number.NaN) })],
    ["an expiry given as a string", "invalid_expiry", () => grantOne({ expiresAt: "2099-01-01T00:00:00Z" as never })],
    ["an expiry of this very moment", "invalid_expiry", () => grantOne({ expiresAt: new Date(clock.now().getTime()) })],
    ["an empty client id", "invalid_request", () => grantOne({ clientId: "" })],
    ["an empty link id", "invalid_request", () => grantOne({ linkId: "" })],
    ["an empty PSID", "invalid_request", () => grantOne({ psid: "" })],
    ["an empty consent id", "invalid_request", () => grantOne({ consentId: "" })],
    ["an empty subject", "invalid_subject", () => grantOne({ subject: "" })],
    ["a blank subject", "invalid_subject", () => grantOne({ subject: "   " })],
    ["an unknown actor", "invalid_request", () => grantOne({ actor: "robot" as never })],
    ["an unknown consent (withdraw)", "unknown_consent", () => ledger.withdraw({ consentId: "nope", actor: "customer" })],
    ["an unknown consent (renew)", "unknown_consent", () => ledger.renew({ consentId: "nope", actor: "customer" })],
  ];
  for (const [what, code, run] of bad) {
    it(`refuses ${what} with ${code} and writes nothing`, async () => {
      const before = await entryCount(db);
      const err = (await run().catch((e: unknown) => e)) as LedgerError;
      expect(err).toBeInstanceOf(LedgerError);
      expect(err.code).toBe(code);
      expect(await entryCount(db)).toBe(before);
    });
  }

  it("refuses a caller-chosen consent id already in use, with invalid_request, and writes nothing", async () => {
    const first = await grantOne();
    const before = await entryCount(db);
    await expect(grantOne({ consentId: first.consentId })).rejects.toMatchObject({ code: "invalid_request", message: expect.stringContaining("already exists") });
    expect(await entryCount(db)).toBe(before);
    const chosen = uniq("chosen");
    expect((await grantOne({ consentId: chosen })).consentId).toBe(chosen);
  });

  it("accepts exactly 365 days", async () => {
    const g = await grantOne({ expiresAt: new Date(clock.now().getTime() + 365 * DAY) });
    expect(g.expiresAt.getTime() - clock.now().getTime()).toBe(365 * DAY);
  });
});

describe("lifecycle", () => {
  it("withdraws once; withdrawing again is a no-op that says so", async () => {
    const g = await grantOne();
    const w1 = await ledger.withdraw({ consentId: g.consentId, actor: "customer", reason: "unlinked in Messenger" });
    expect(w1).toMatchObject({ changed: true, state: "withdrawn" });
    const before = await entryCount(db);
    const w2 = await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    expect(w2).toMatchObject({ changed: false, state: "withdrawn" });
    expect(w2.message).toMatch(/already withdrawn/);
    expect(await entryCount(db)).toBe(before);
    const { entries } = await ledger.get(g.consentId);
    expect(entries.map((e) => e.action)).toEqual(["granted", "withdrawn"]);
    expect(entries[1]!.evidence).toEqual({ reason: "unlinked in Messenger" });
  });

  it("renews an active consent, refuses to renew a withdrawn one", async () => {
    const g = await grantOne();
    clock.advance(10 * DAY);
    const r = await ledger.renew({ consentId: g.consentId, actor: "customer" });
    expect(r.expiresAt.getTime()).toBe(clock.now().getTime() + 90 * DAY);
    expect((await ledger.get(g.consentId)).consent.expiresAt).toEqual(r.expiresAt);
    await expect(ledger.renew({ consentId: g.consentId, actor: "customer", expiresAt: new Date(clock.now().getTime() + 400 * DAY) })).rejects.toMatchObject({ code: "invalid_expiry" });
    await expect(ledger.renew({ consentId: g.consentId, actor: "customer", expiresAt: new Date(r.expiresAt.getTime() - DAY) })).rejects.toMatchObject({ code: "invalid_expiry" });
    expect((await ledger.get(g.consentId)).entries.map((e) => e.action)).toEqual(["granted", "renewed"]);
    await ledger.withdraw({ consentId: g.consentId, actor: "bank" });
    const before = await entryCount(db);
    await expect(ledger.renew({ consentId: g.consentId, actor: "customer" })).rejects.toMatchObject({ code: "not_active" });
    expect(await entryCount(db)).toBe(before);
  });

  it("answers expired once expiresAt passes, and the sweeper records it exactly once", async () => {
    const g = await grantOne({ expiresAt: new Date(clock.now().getTime() + DAY) });
    const who = { clientId: "bank-a", subject: (await ledger.get(g.consentId)).consent.subject };
    expect((await ledger.check(who, { scope: "balance:read" })).reason).toBe("active");
    clock.advance(DAY + 1);
    expect(await ledger.check(who, { scope: "balance:read" })).toMatchObject({ allowed: false, reason: "expired", consentId: g.consentId });
    await expect(ledger.renew({ consentId: g.consentId, actor: "customer" })).rejects.toMatchObject({ code: "not_active" });
    // Two sweepers at once, then a third: one `expired` entry.
    const swept = await Promise.all([ledger.sweepExpired(), ledger.sweepExpired()]);
    expect(swept.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(1);
    await ledger.sweepExpired();
    const { consent, entries } = await ledger.get(g.consentId);
    expect(consent.status).toBe("expired");
    expect(entries.map((e) => e.action)).toEqual(["granted", "expired"]);
    expect(entries[1]!.actor).toBe("system");
    expect((await ledger.withdraw({ consentId: g.consentId, actor: "customer" })).changed).toBe(false);
    expect((await ledger.verify()).ok).toBe(true);
  });
});

describe("how consents ended (the broker's link reconciler)", () => {
  it("names the withdrawing actor, `system` for an expiry, nothing while active or unknown", async () => {
    const active = await grantOne();
    const withdrawn = await grantOne();
    const lapsing = await grantOne({ expiresAt: new Date(clock.now().getTime() + 1000) });
    await ledger.withdraw({ consentId: withdrawn.consentId, actor: "compliance", reason: "request" });
    clock.advance(2000);
    expect(await ledger.endOf(active.consentId)).toBeUndefined();
    expect(await ledger.endOf("no-such-consent")).toBeUndefined();
    expect(await ledger.endOf(withdrawn.consentId)).toEqual({ state: "withdrawn", actor: "compliance" });
    // Past its expiry before the sweeper wrote `expired`, and after.
    expect(await ledger.endOf(lapsing.consentId)).toEqual({ state: "expired", actor: "system" });
    await ledger.sweepExpired();
    expect(await ledger.endOf(lapsing.consentId)).toEqual({ state: "expired", actor: "system" });
  });

  it("picks the ended ones out of a list of consent ids in one call", async () => {
    const active = await grantOne();
    const withdrawn = await grantOne();
    const lapsing = await grantOne({ expiresAt: new Date(clock.now().getTime() + 1000) });
    await ledger.withdraw({ consentId: withdrawn.consentId, actor: "bank" });
    clock.advance(2000);
    const ended = await ledger.inactiveAmong([active.consentId, withdrawn.consentId, lapsing.consentId, "no-such-consent"]);
    expect(ended.sort()).toEqual([withdrawn.consentId, lapsing.consentId].sort());
    expect(await ledger.inactiveAmong([])).toEqual([]);
  });
});

describe("reconsent (re-linking)", () => {
  it("renews a consent given again on the same terms, inside the caller's transaction", async () => {
    const g = await grantOne({ expiresAt: new Date(clock.now().getTime() + 30 * DAY) });
    const { consent } = await ledger.get(g.consentId);
    const later = new Date(clock.now().getTime() + 60 * DAY);
    const r = await db.transaction((tx) => ledger.reconsent({ consentId: g.consentId, clientId: "bank-a", subject: consent.subject, linkId: consent.linkId ?? undefined, psid: consent.psid ?? undefined, scopes: ["balance:read"], expiresAt: later, actor: "customer" }, { tx }));
    expect(r.consentId).toBe(g.consentId);
    expect((await ledger.get(g.consentId)).entries.map((e) => e.action)).toEqual(["granted", "renewed"]);
    expect(r.expiresAt).toEqual(later);
  });

  it("replaces a consent given on other terms: the old one is withdrawn, a new one granted", async () => {
    const g = await grantOne();
    const { consent } = await ledger.get(g.consentId);
    const r = await db.transaction((tx) => ledger.reconsent({ consentId: g.consentId, clientId: "bank-a", subject: consent.subject, linkId: consent.linkId ?? undefined, psid: consent.psid ?? undefined, scopes: ["balance:read", "alerts:fraud"], actor: "customer" }, { tx }));
    expect(r.consentId).not.toBe(g.consentId);
    expect((await ledger.get(g.consentId)).consent.status).toBe("withdrawn");
    expect((await ledger.get(r.consentId)).consent).toMatchObject({ status: "active", scopes: ["alerts:fraud", "balance:read"] });
    expect(await ledger.isActive(g.consentId)).toBe(false);
    expect(await ledger.isActive(r.consentId)).toBe(true);
    expect((await ledger.verify()).ok).toBe(true);
  });

  it("refuses another customer's consent, and writes nothing when the transaction rolls back", async () => {
    const g = await grantOne();
    const { consent } = await ledger.get(g.consentId);
    await expect(ledger.reconsent({ consentId: g.consentId, clientId: "bank-a", subject: "someone-else", scopes: ["balance:read"], actor: "customer" })).rejects.toMatchObject({ code: "invalid_request" });
    const before = await entryCount(db);
    await expect(
      db.transaction(async (tx) => {
        await ledger.reconsent({ consentId: g.consentId, clientId: "bank-a", subject: consent.subject, scopes: ["support:chat"], actor: "customer" }, { tx });
        throw new Error("rollback");
      }),
    ).rejects.toThrow("rollback");
    expect(await entryCount(db)).toBe(before);
    expect(await ledger.isActive(g.consentId)).toBe(true);
  });
});

describe("check", () => {
  it("answers every reason", async () => {
    const subject = uniq("cust");
    const g = await grantOne({ subject, scopes: ["balance:read", "alerts:fraud"], purposes: ["account_servicing", "fraud_alerts"] });
    const who = { clientId: "bank-a", subject };
    expect(await ledger.check(who, { scope: "balance:read", purpose: "account_servicing" })).toEqual({ allowed: true, consentId: g.consentId, expiresAt: g.expiresAt, reason: "active" });
    expect((await ledger.check(who, { scope: "balance:read" })).reason).toBe("active");
    expect((await ledger.check(who, { scope: "transactions:read" })).reason).toBe("scope_not_granted");
    // Only the exact pairs granted: a granted scope for another (consented or not) purpose is not granted.
    expect((await ledger.check(who, { scope: "balance:read", purpose: "customer_support" })).reason).toBe("scope_not_granted");
    for (const p of ["advertising", "marketing", "profiling", "ADVERTISING", "Profiling"]) expect(await ledger.check(who, { scope: "balance:read", purpose: p })).toMatchObject({ allowed: false, reason: "purpose_forbidden" });
    expect((await ledger.check({ clientId: "bank-a", subject: "nobody" }, { scope: "balance:read" })).reason).toBe("no_consent");
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    expect(await ledger.check(who, { scope: "balance:read" })).toMatchObject({ allowed: false, reason: "withdrawn", consentId: g.consentId });
    expect((await ledger.check(who, { scope: "balance:read", at: new Date(g.expiresAt.getTime() + 1) })).reason).toBe("withdrawn");
  });

  it("allows a (scope, purpose) only as a granted pair: (balance:read, account_servicing) + (alerts:fraud, fraud_alerts) refuses (balance:read, fraud_alerts)", async () => {
    const subject = uniq("cust");
    const pairs = [
      { scope: "balance:read", purpose: "account_servicing" },
      { scope: "alerts:fraud", purpose: "fraud_alerts" },
    ];
    const g = await grantOne({ subject, pairs });
    expect(g.pairs).toEqual([pairs[1], pairs[0]]); // sorted by scope
    expect(g.scopes).toEqual(["alerts:fraud", "balance:read"]);
    expect(g.purposes).toEqual(["account_servicing", "fraud_alerts"]);
    const who = { clientId: "bank-a", subject };
    expect(await ledger.check(who, { scope: "balance:read", purpose: "account_servicing" })).toMatchObject({ allowed: true, reason: "active" });
    expect(await ledger.check(who, { scope: "alerts:fraud", purpose: "fraud_alerts" })).toMatchObject({ allowed: true, reason: "active" });
    expect(await ledger.check(who, { scope: "balance:read", purpose: "fraud_alerts" })).toEqual({ allowed: false, consentId: g.consentId, expiresAt: g.expiresAt, reason: "scope_not_granted" });
    expect((await ledger.check(who, { scope: "alerts:fraud", purpose: "account_servicing" })).reason).toBe("scope_not_granted");
    expect((await ledger.check(who, { scope: "alerts:fraud", purpose: "advertising" })).reason).toBe("purpose_forbidden");
    // The pairs are what the chain records and the receipt states.
    const { consent, entries } = await ledger.get(g.consentId);
    expect(consent.pairs).toEqual(g.pairs);
    expect(entries[0]).toMatchObject({ format: 2, pairs: g.pairs });
    const { payload } = await jwtVerify(await ledger.receipt(g.consentId), createLocalJWKSet((await keys.published()) as never));
    expect(payload.pairs).toEqual(g.pairs);
    expect((payload.services as { purposes: { purposeCategory: string[]; piiCategory: string[] }[] }[])[0]!.purposes.map((p) => [p.purposeCategory[0], p.piiCategory])).toEqual([
      ["fraud_alerts", ["Financial: fraud alerts"]],
      ["account_servicing", ["Financial: account balances"]],
    ]);
  });

  it("pairs named purposes only with the scopes that serve them, and refuses what does not pair", async () => {
    const g = await grantOne({ scopes: ["transactions:read", "alerts:fraud"], purposes: ["transaction_notifications", "fraud_alerts"] });
    expect(g.pairs).toEqual([
      { scope: "alerts:fraud", purpose: "fraud_alerts" },
      { scope: "transactions:read", purpose: "transaction_notifications" },
    ]);
    await expect(grantOne({ scopes: ["balance:read"], purposes: ["fraud_alerts"] })).rejects.toMatchObject({ code: "invalid_purpose" });
    await expect(grantOne({ scopes: ["balance:read"], purposes: ["account_servicing", "customer_support"] })).rejects.toMatchObject({ code: "invalid_purpose" });
    await expect(grantOne({ pairs: [{ scope: "balance:read", purpose: "marketing" }] })).rejects.toMatchObject({ code: "purpose_forbidden" });
    await expect(grantOne({ pairs: [{ scope: "balance:write", purpose: "account_servicing" }] })).rejects.toMatchObject({ code: "invalid_scope" });
    await expect(grantOne({ pairs: [] })).rejects.toMatchObject({ code: "invalid_scope" });
    await expect(grantOne({ pairs: ["balance:read"] as never })).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("renews on the same pairs and replaces on other pairs", async () => {
    const subject = uniq("cust");
    const pairs = [{ scope: "balance:read", purpose: "account_servicing" }];
    const g = await grantOne({ subject, pairs });
    clock.advance(DAY);
    const same = await ledger.reconsent({ consentId: g.consentId, clientId: "bank-a", subject, pairs, actor: "customer" });
    expect(same.consentId).toBe(g.consentId);
    const more = [...pairs, { scope: "alerts:fraud", purpose: "fraud_alerts" }];
    const other = await ledger.reconsent({ consentId: g.consentId, clientId: "bank-a", subject, pairs: more, actor: "customer" });
    expect(other.consentId).not.toBe(g.consentId);
    expect((await ledger.get(g.consentId)).consent.status).toBe("withdrawn");
    expect((await ledger.check({ clientId: "bank-a", subject }, { scope: "alerts:fraud", purpose: "fraud_alerts" })).consentId).toBe(other.consentId);
  });

  it("finds the consent by link id and by psid, and uses the newest active consent", async () => {
    const subject = uniq("cust");
    const old = await grantOne({ subject, linkId: "link-x1", psid: "psid-x1" });
    await ledger.withdraw({ consentId: old.consentId, actor: "customer" });
    clock.advance(1000);
    const fresh = await grantOne({ subject, linkId: "link-x2", psid: "psid-x1" });
    expect((await ledger.check({ linkId: "link-x1" }, { scope: "balance:read" })).reason).toBe("withdrawn");
    expect(await ledger.check({ linkId: "link-x2" }, { scope: "balance:read" })).toMatchObject({ allowed: true, consentId: fresh.consentId });
    expect(await ledger.check({ clientId: "bank-a", psid: "psid-x1" }, { scope: "balance:read" })).toMatchObject({ allowed: true, consentId: fresh.consentId });
    expect(await ledger.check({ clientId: "bank-a", subject }, { scope: "balance:read" })).toMatchObject({ allowed: true, consentId: fresh.consentId });
  });

  it("rejects bad check input with typed errors", async () => {
    await expect(ledger.check({ clientId: "bank-a", subject: "x" }, { scope: "balance:write" })).rejects.toMatchObject({ code: "invalid_scope" });
    await expect(ledger.check({ clientId: "bank-a", subject: "" }, { scope: "balance:read" })).rejects.toMatchObject({ code: "invalid_subject" });
    await expect(ledger.check({} as never, { scope: "balance:read" })).rejects.toMatchObject({ code: "invalid_request" });
    await expect(ledger.check({ linkId: "" }, { scope: "balance:read" })).rejects.toMatchObject({ code: "invalid_request" });
    // A customer or PSID without the bank is no key: it would reach every bank's consents.
    await expect(ledger.check({ subject: "x" } as never, { scope: "balance:read" })).rejects.toMatchObject({ code: "invalid_request" });
    await expect(ledger.check({ psid: "x" } as never, { scope: "balance:read" })).rejects.toMatchObject({ code: "invalid_request" });
    // The bank alone is no key either: it would reach every customer of that bank.
    await expect(ledger.check({ clientId: "bank-a" } as never, { scope: "balance:read" })).rejects.toMatchObject({ code: "invalid_request" });
    await expect(ledger.check({ clientId: "bank-a", psid: "" } as never, { scope: "balance:read" })).rejects.toMatchObject({ code: "invalid_request" });
    await expect(ledger.check({ linkId: "l" }, { scope: "balance:read", purpose: "resale" })).rejects.toMatchObject({ code: "invalid_purpose" });
  });

  it("isolates tenants: another bank's consent is no_consent on check and unknown on read", async () => {
    const subject = uniq("cust");
    const g = await grantOne({ subject, linkId: "link-iso" });
    const otherBank = { clientId: "bank-b" };
    expect((await ledger.check({ linkId: "link-iso" }, { scope: "balance:read" }, otherBank)).reason).toBe("no_consent");
    expect((await ledger.check({ clientId: "bank-a", subject }, { scope: "balance:read" }, otherBank)).reason).toBe("no_consent");
    expect((await ledger.check({ linkId: "link-iso" }, { scope: "balance:read" }, { clientId: "bank-a" })).reason).toBe("active");
    await expect(ledger.get(g.consentId, otherBank)).rejects.toMatchObject({ code: "unknown_consent", status: 404 });
    await expect(ledger.receipt(g.consentId, otherBank)).rejects.toMatchObject({ code: "unknown_consent" });
    await expect(ledger.withdraw({ consentId: g.consentId, actor: "bank" }, otherBank)).rejects.toMatchObject({ code: "unknown_consent" });
    expect((await ledger.find({ subject }, otherBank)).items).toEqual([]);
    expect((await ledger.find({ subject, clientId: "bank-a" }, otherBank)).items).toEqual([]);
    expect((await ledger.find({ subject }, { clientId: "bank-a" })).items.map((c) => c.id)).toEqual([g.consentId]);
  });

  it("isolates tenants when a bank names another: nothing, not even its own consents of that customer", async () => {
    const subject = uniq("cust");
    const a = await grantOne({ subject });
    const b = await grantOne({ subject, clientId: "bank-b" });
    expect((await ledger.find({ subject, clientId: "bank-a" }, { clientId: "bank-b" })).items).toEqual([]);
    expect((await ledger.find({ subject, clientId: "bank-b" }, { clientId: "bank-b" })).items.map((c) => c.id)).toEqual([b.consentId]);
    expect((await ledger.find({ subject }, { clientId: "bank-b" })).items.map((c) => c.id)).toEqual([b.consentId]);
    // Compliance (no tenant) sees both.
    expect((await ledger.find({ subject })).items.map((c) => c.id).sort()).toEqual([a.consentId, b.consentId].sort());
    // A bank's check of a key it shares with another bank answers from its own consent only.
    await ledger.withdraw({ consentId: b.consentId, actor: "customer" });
    expect(await ledger.check({ clientId: "bank-b", subject }, { scope: "balance:read" }, { clientId: "bank-b" })).toMatchObject({ allowed: false, reason: "withdrawn", consentId: b.consentId });
    expect(await ledger.get(b.consentId, { clientId: "bank-b" })).toMatchObject({ consent: { id: b.consentId } });
    // Another bank's consent is no consent at all: not allowed, whatever it holds.
    expect(await ledger.check({ clientId: "bank-a", subject }, { scope: "balance:read" }, { clientId: "bank-b" })).toEqual({ allowed: false, consentId: null, expiresAt: null, reason: "no_consent" });
    // A consent's history is its own entries only, never another bank's.
    const history = (await ledger.get(b.consentId, { clientId: "bank-b" })).entries;
    expect(history.map((e) => [e.consentId, e.action])).toEqual([
      [b.consentId, "granted"],
      [b.consentId, "withdrawn"],
    ]);
  });

  it("answers a key from that key's consents only: an unknown link, customer or PSID has none", async () => {
    const linkId = uniq("link");
    const g = await grantOne({ linkId });
    expect(await ledger.check({ linkId: uniq("link-none") }, { scope: "balance:read" })).toEqual({ allowed: false, consentId: null, expiresAt: null, reason: "no_consent" });
    expect(await ledger.check({ clientId: "bank-a", subject: uniq("nobody") }, { scope: "balance:read" })).toMatchObject({ allowed: false, reason: "no_consent" });
    expect(await ledger.check({ clientId: "bank-a", psid: uniq("psid-none") }, { scope: "balance:read" })).toMatchObject({ allowed: false, reason: "no_consent" });
    expect(await ledger.check({ linkId }, { scope: "balance:read" }, { clientId: "bank-a" })).toMatchObject({ allowed: true, consentId: g.consentId });
    // find filters by PSID as asked, and takes limits from 1 to 500 only.
    const other = await grantOne();
    const psid = (await ledger.get(g.consentId)).consent.psid!;
    expect((await ledger.find({ psid }, { clientId: "bank-a" })).items.map((c) => c.id)).toEqual([g.consentId]);
    expect((await ledger.find({ psid: (await ledger.get(other.consentId)).consent.psid! })).items.map((c) => c.id)).toEqual([other.consentId]);
    expect((await ledger.find({ psid, limit: 1 })).items).toHaveLength(1);
    expect((await ledger.find({ psid, limit: 500 })).items).toHaveLength(1);
    for (const limit of [0, 501, 1.5]) await expect(ledger.find({ psid, limit })).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("serves warm checks from the cache and still sees a withdrawal at once", async () => {
    const subject = uniq("cust");
    const g = await grantOne({ subject });
    const who = { clientId: "bank-a", subject };
    await new Promise((r) => setTimeout(r, 100)); // the grant's own NOTIFY has arrived
    await ledger.check(who, { scope: "balance:read" });
    const hits = ledger.cacheStats().hits;
    for (let i = 0; i < 20; i++) expect((await ledger.check(who, { scope: "balance:read" })).allowed).toBe(true);
    // Most come from the cache (on a loaded machine a late heartbeat may bypass it, as designed).
    expect(ledger.cacheStats().hits).toBeGreaterThan(hits);
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    expect((await ledger.check(who, { scope: "balance:read" })).reason).toBe("withdrawn");
  });
});

describe("find, export, receipts, checkpoints", () => {
  it("paginates find", async () => {
    const subject = uniq("page");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      ids.push((await grantOne({ subject })).consentId);
    }
    const p1 = await ledger.find({ subject, limit: 2 });
    const p2 = await ledger.find({ subject, limit: 2, cursor: p1.nextCursor! });
    const p3 = await ledger.find({ subject, limit: 2, cursor: p2.nextCursor! });
    expect([...p1.items, ...p2.items, ...p3.items].map((c) => c.id)).toEqual(ids.reverse());
    expect(p3.nextCursor).toBeNull();
    await expect(ledger.find({ limit: 0 })).rejects.toMatchObject({ code: "invalid_request" });
  });

  it("export round-trips: the JSONL parsed back equals the entries of find", async () => {
    let jsonl = "";
    for await (const chunk of ledger.export({ format: "jsonl" })) jsonl += chunk;
    const lines = jsonl.trim().split("\n").map((l) => JSON.parse(l));
    // Entries first, in seq order; then the consent projection rows (no checkpoint exists yet).
    const exported = lines.filter((l) => l.type === undefined);
    const consents = lines.filter((l) => l.type === "consent");
    expect(lines).toEqual([...exported, ...consents]);
    expect(consents.length).toBe(await db.prisma.consent.count());
    const all: unknown[] = [];
    let cursor: string | undefined;
    do {
      const page = await ledger.find({ limit: 100, cursor });
      for (const c of page.items) all.push(...(await ledger.get(c.id)).entries.map(entryToWire));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    const bySeq = (a: { seq: string }, b: { seq: string }) => Number(BigInt(a.seq) - BigInt(b.seq));
    expect(exported).toEqual(JSON.parse(JSON.stringify(all)).sort(bySeq));
    expect(exported.length).toBe(await entryCount(db));
    // An outside auditor recomputes the chain from the export alone (the README's recipe).
    const canon = (v: unknown): string =>
      Array.isArray(v) ? `[${v.map(canon).join(",")}]` : v && typeof v === "object" ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`).join(",")}}` : JSON.stringify(v);
    let prev = "0".repeat(64);
    for (const { prev_hash, hash, ...e } of exported) {
      expect(prev_hash).toBe(prev);
      expect(createHash("sha256").update(prev + canon(e)).digest("hex")).toBe(hash);
      prev = hash;
    }
    expect(prev).toBe((await ledger.verify()).headHash);
    let csv = "";
    for await (const chunk of ledger.export({ format: "csv" })) csv += chunk;
    const rows = csv.trim().split("\r\n");
    expect(rows[0]).toBe("seq,consent_id,action,client_id,subject,link_id,psid,scopes,purposes,pairs,expires_at,actor,evidence,recorded_at,prev_hash,hash");
    expect(rows.length - 1).toBe(exported.length);
    expect(() => ledger.export({ format: "xml" as never })).toThrow(LedgerError);
  });

  it("signs a receipt that verifies against the JWKS", async () => {
    const subject = uniq("cust");
    const g = await grantOne({ subject, scopes: ["balance:read", "support:chat"] });
    const jws = await ledger.receipt(g.consentId);
    const { payload, protectedHeader } = await jwtVerify(jws, createLocalJWKSet((await keys.published()) as never));
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: "ledger-test-1", typ: "consent-receipt+jwt" });
    expect(payload).toMatchObject({
      consent_id: g.consentId,
      controller: { name: "Bank A", client_id: "bank-a" },
      sub: pseudonymousSubject("bank-a", subject, "receipt-subject-key"),
      scopes: ["balance:read", "support:chat"],
      expires_at: g.expiresAt.toISOString(),
      ledger: { seq: g.seq, hash: g.hash },
    });
    expect(payload).toMatchObject({ version: "KI-CR-v1.1.0", jurisdiction: "unspecified", language: "en", consentTimestamp: expect.any(Number), collectionMethod: expect.stringContaining("second factor (totp)"), sensitive: false });
    expect(payload.consentReceiptID).toMatch(/^[0-9a-f-]{36}$/);
    expect(payload.piiPrincipalId).toBe(payload.sub);
    expect(JSON.stringify(payload)).not.toContain(subject);
  });

  it("names the client id as the controller of a receipt whose bank is gone", async () => {
    const g = await grantOne({ clientId: "bank-gone" });
    const { payload } = await jwtVerify(await ledger.receipt(g.consentId), createLocalJWKSet((await keys.published()) as never));
    expect(payload.controller).toMatchObject({ name: "bank-gone", client_id: "bank-gone" });
  });

  it("reads entries after a seq and consents about to expire, a bounded page at a time", async () => {
    const subject = uniq("page");
    const a = await grantOne({ subject, expiresAt: new Date(clock.now().getTime() + 3 * DAY) });
    const b = await grantOne({ subject, expiresAt: new Date(clock.now().getTime() + 3 * DAY + 1000) });
    const after = (BigInt(a.seq) - 1n).toString();
    // A limit below 1 reads one; a fractional one is cut to a whole number.
    expect((await ledger.entriesAfter(after, 0)).map((e) => e.seq)).toEqual([a.seq]);
    expect((await ledger.entriesAfter(after, 2.9)).map((e) => e.seq)).toEqual([a.seq, b.seq]);
    const from = new Date(clock.now().getTime() + 2 * DAY);
    const to = new Date(clock.now().getTime() + 4 * DAY);
    const page = await ledger.expiringBetween(from, to, 0);
    expect(page).toHaveLength(1);
    expect(page[0]).toMatchObject({ status: "active", subject: expect.any(String), expiresAt: expect.any(Date) });
    expect(await ledger.expiringBetween(from, to, 1.5)).toHaveLength(1);
    const ids = (await ledger.expiringBetween(from, to, 1000)).filter((c) => c.subject === subject).map((c) => c.id);
    expect(ids).toEqual([a.consentId, b.consentId]);
  });

  it("records signed checkpoints that verify", async () => {
    const cp = (await ledger.checkpoint())!;
    const { payload } = await compactVerify(cp.jws, createLocalJWKSet((await keys.published()) as never));
    const body = JSON.parse(new TextDecoder().decode(payload));
    expect(body).toMatchObject({ seq: cp.seq, head_hash: cp.headHash, iat: expect.any(Number) });
    const v = await ledger.verify();
    expect(v).toMatchObject({ ok: true, headHash: cp.headHash, headSeq: cp.seq, checkpointsVerified: 1, firstBadSeq: null, problem: null });
    expect(v.checked).toBe(await entryCount(db));
  });

  it("signs a checkpoint once per head: asked again with nothing appended, it gives back the same one", async () => {
    await grantOne();
    const first = (await ledger.checkpoint())!;
    const again = (await ledger.checkpoint())!;
    expect(again).toEqual(first);
    expect(await db.prisma.ledgerCheckpoint.count({ where: { seq: BigInt(first.seq) } })).toBe(1);
  });
});
