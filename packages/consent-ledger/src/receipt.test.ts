// What a consent receipt states: exactly the consented (scope, purpose) pairs, grouped by purpose,
// a pseudonymous subject the bank can recompute, how consent was collected, and who to contact,
// taking from the bank's metadata only what is well formed.
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { pseudonymousSubject, receiptPayload } from "./receipt.ts";
import type { ConsentRecord, EntryRecord } from "./records.ts";

const NOW = new Date("2026-03-02T10:00:00.000Z");
const consent: ConsentRecord = {
  id: "c1",
  clientId: "bank-a",
  subject: "cust-1",
  linkId: "link-1",
  psid: "psid-1",
  status: "active",
  pairs: [
    { scope: "alerts:fraud", purpose: "fraud_alerts" },
    { scope: "balance:read", purpose: "account_servicing" },
    { scope: "transactions:read", purpose: "fraud_alerts" },
  ],
  scopes: ["alerts:fraud", "balance:read", "transactions:read"],
  purposes: ["account_servicing", "fraud_alerts"],
  expiresAt: new Date("2026-06-01T10:00:00.000Z"),
  grantedAt: new Date("2026-03-01T10:00:00.000Z"),
  updatedAt: new Date("2026-03-01T10:00:00.000Z"),
  lastSeq: "7",
};
const entry = (over: Partial<EntryRecord>): EntryRecord => ({
  seq: "7",
  consentId: "c1",
  action: "granted",
  clientId: "bank-a",
  subject: "cust-1",
  linkId: "link-1",
  psid: "psid-1",
  pairs: consent.pairs,
  format: 2,
  scopes: consent.scopes,
  purposes: consent.purposes,
  expiresAt: consent.expiresAt,
  actor: "customer",
  evidence: { second_factor: "totp" },
  recordedAt: consent.grantedAt,
  prevHash: "0".repeat(64),
  hash: "a".repeat(64),
  ...over,
});
const controller = { clientId: "bank-a", name: "Bank A", metadata: { contacts: ["dpo@bank-a.example", "+44 20 0000"], client_uri: "https://bank-a.example", policy_uri: "https://bank-a.example/privacy" } };

function receipt(over: Partial<Parameters<typeof receiptPayload>[0]> = {}) {
  const grant = entry({});
  return receiptPayload({ consent, entries: [grant], last: grant, controller, now: NOW, subjectKey: "k", ...over });
}

describe("consent receipts", () => {
  it("state each purpose once, with only the data of the scopes paired with it", () => {
    const r = receipt();
    expect(r.services).toEqual([
      {
        service: "Bank A in Messenger",
        purposes: [
          { purpose: "Warning you about possible fraud", purposeCategory: ["fraud_alerts"], consentType: "EXPLICIT", piiCategory: ["Financial: fraud alerts", "Financial: transactions"], primaryPurpose: true, termination: "when you unlink or withdraw, or on 2026-06-01 at the latest", thirdPartyDisclosure: false },
          { purpose: "Servicing your account", purposeCategory: ["account_servicing"], consentType: "EXPLICIT", piiCategory: ["Financial: account balances"], primaryPurpose: true, termination: "when you unlink or withdraw, or on 2026-06-01 at the latest", thirdPartyDisclosure: false },
        ],
      },
    ]);
    expect(r).toMatchObject({ consent_id: "c1", status: "active", pairs: consent.pairs, scopes: consent.scopes, purposes: consent.purposes, never_used_for: ["advertising", "marketing", "profiling"], expires_at: "2026-06-01T10:00:00.000Z", ledger: { seq: "7", hash: "a".repeat(64) } });
    expect(r).toMatchObject({ sensitive: false, spiCat: [], version: "KI-CR-v1.1.0", language: "en", jurisdiction: "unspecified", iat: NOW.getTime() / 1000, consentTimestamp: consent.grantedAt.getTime() / 1000 });
    expect(r.jti).toBe(r.consentReceiptID);
    expect(r.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(receipt().jti).not.toBe(r.jti);
  });

  it("names an unknown scope or purpose as it is, rather than drop it", () => {
    const odd = { ...consent, pairs: [{ scope: "x:read", purpose: "y" }] };
    expect(receipt({ consent: odd }).services[0]!.purposes).toMatchObject([{ purpose: "y", purposeCategory: ["y"], piiCategory: ["x:read"] }]);
  });

  it("carry a pseudonymous subject: keyed when the ledger has a key, recomputable by the bank", () => {
    const keyed = createHmac("sha256", "k").update("bank-a\u0000cust-1").digest("base64url");
    expect(receipt()).toMatchObject({ sub: keyed, piiPrincipalId: keyed });
    expect(pseudonymousSubject("bank-a", "cust-1")).toBe(createHash("sha256").update("bank-a\u0000cust-1").digest("base64url"));
    expect(receipt({ subjectKey: undefined }).sub).toBe(pseudonymousSubject("bank-a", "cust-1"));
    // The separator keeps (bank-a, b) and (bank-ab, "") apart.
    expect(pseudonymousSubject("bank-a", "b")).not.toBe(pseudonymousSubject("bank-ab", ""));
    expect(JSON.stringify(receipt())).not.toContain("cust-1");
  });

  it("say how consent was collected, from the grant entry", () => {
    expect(receipt().collectionMethod).toBe("Messenger account linking: sign-in at the bank and a second factor (totp), then explicit opt-in on the consent page");
    const noFactor = entry({ evidence: { second_factor: 1 } });
    expect(receipt({ entries: [noFactor] }).collectionMethod).toBe("Messenger account linking: sign-in at the bank, then explicit opt-in on the consent page");
    expect(receipt({ entries: [entry({ evidence: null })] }).collectionMethod).toBe("Messenger account linking: sign-in at the bank, then explicit opt-in on the consent page");
    expect(receipt({ entries: [entry({ actor: "bank" })] }).collectionMethod).toBe("recorded by the bank through the consent ledger API");
    // The grant is the `granted` entry, wherever it stands; with none, the broker recorded it.
    expect(receipt({ entries: [entry({ action: "renewed", actor: "bank" }), entry({})] }).collectionMethod).toMatch(/^Messenger account linking/);
    expect(receipt({ entries: [entry({ action: "renewed" })] }).collectionMethod).toBe("recorded by the broker through the consent ledger API");
  });

  it("name the bank with what its metadata gives that is well formed", () => {
    expect(receipt().piiControllers).toEqual([{ piiController: "Bank A", contact: "dpo@bank-a.example", email: "dpo@bank-a.example", piiControllerUrl: "https://bank-a.example" }]);
    expect(receipt().policyUrl).toBe("https://bank-a.example/privacy");
    const sloppy = { ...controller, metadata: { contacts: [42, "call us", "not@an email", "write to dpo@bank-a.example"], client_uri: "javascript:alert('https://x')", policy_uri: ["https://bank-a.example/privacy"] } };
    const r = receipt({ controller: sloppy });
    expect(r.piiControllers).toEqual([{ piiController: "Bank A", contact: "call us" }]);
    expect(r).not.toHaveProperty("policyUrl");
    expect(receipt({ controller: { ...controller, metadata: { contacts: "dpo@bank-a.example" } } }).piiControllers).toEqual([{ piiController: "Bank A", contact: "Bank A" }]);
    // Plain http is taken as given (registration decides which schemes a bank may use).
    expect(receipt({ controller: { ...controller, metadata: { policy_uri: "http://bank-a.example/privacy" } } }).policyUrl).toBe("http://bank-a.example/privacy");
  });

  it("carry the deployment's issuer, jurisdiction, language and receipt page when set", () => {
    const r = receipt({ issuer: "https://broker.example", context: { jurisdiction: "GB", language: "cy", pageUrl: (id) => `https://broker.example/r/${id}` } });
    expect(r).toMatchObject({ iss: "https://broker.example", jurisdiction: "GB", language: "cy", receipt_url: "https://broker.example/r/c1", controller: { name: "Bank A", client_id: "bank-a" } });
    expect(receipt()).not.toHaveProperty("iss");
    expect(receipt()).not.toHaveProperty("receipt_url");
  });
});
