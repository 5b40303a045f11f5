import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson, entryHash, GENESIS_HASH, hashedFields } from "./hash-chain.ts";

const entry = {
  seq: 7n,
  consentId: "c-1",
  action: "granted",
  clientId: "bank-a",
  subject: "cust-1",
  linkId: null,
  psid: "psid-1",
  scopes: ["balance:read"],
  purposes: ["account_servicing"],
  expiresAt: new Date("2026-06-01T00:00:00.000Z"),
  actor: "customer",
  evidence: { second_factor: { method: "totp", at: "2026-03-01T10:00:00.000Z" }, request_id: "r-1" },
  recordedAt: new Date("2026-03-01T10:00:00.123Z"),
};

describe("canonical JSON", () => {
  it("sorts keys at every level, drops whitespace, writes dates as ISO and bigints as strings", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: null, x: true }], c: "é\"" }, t: new Date(0), n: 10n })).toBe(
      '{"a":{"c":"é\\"","d":[3,{"x":true,"y":null}]},"b":1,"n":"10","t":"1970-01-01T00:00:00.000Z"}',
    );
  });
  it("refuses values JSON cannot carry", () => {
    expect(() => canonicalJson({ x: Number.NaN })).toThrow(TypeError);
    expect(() => canonicalJson({ x: "\uD800" })).toThrow(TypeError);
    expect(() => canonicalJson({ ["\uDC00"]: 1 })).toThrow(TypeError);
  });
});

describe("entry hash", () => {
  it("is SHA-256 over prev_hash followed by the canonical JSON (the README's recipe)", () => {
    const canonical =
      '{"action":"granted","actor":"customer","client_id":"bank-a","consent_id":"c-1","evidence":{"request_id":"r-1","second_factor":{"at":"2026-03-01T10:00:00.000Z","method":"totp"}},"expires_at":"2026-06-01T00:00:00.000Z","link_id":null,"psid":"psid-1","purposes":["account_servicing"],"recorded_at":"2026-03-01T10:00:00.123Z","scopes":["balance:read"],"seq":"7","subject":"cust-1"}';
    expect(canonicalJson(hashedFields(entry))).toBe(canonical);
    expect(entryHash(GENESIS_HASH, entry)).toBe(createHash("sha256").update(GENESIS_HASH + canonical).digest("hex"));
  });
  it("changes with any field, the seq and the previous hash", () => {
    const h = entryHash(GENESIS_HASH, entry);
    expect(entryHash(GENESIS_HASH, { ...entry, seq: 8n })).not.toBe(h);
    expect(entryHash(GENESIS_HASH, { ...entry, scopes: ["balance:read", "alerts:fraud"] })).not.toBe(h);
    expect(entryHash("1".repeat(64), entry)).not.toBe(h);
  });
});

describe("canonical JSON of values JSON has no member for", () => {
  it("drops object members that are undefined and writes undefined in an array as null, as JSON.stringify does", () => {
    expect(canonicalJson({ b: undefined, a: 1 })).toBe('{"a":1}');
    expect(canonicalJson([1, undefined, null])).toBe("[1,null,null]");
    expect(canonicalJson(undefined)).toBe("null");
  });
  it("refuses functions and symbols rather than writing them as objects", () => {
    expect(() => canonicalJson(() => 1)).toThrow(TypeError);
    expect(() => canonicalJson({ f: Symbol("x") })).toThrow(TypeError);
  });
});

describe("entry hash across ledger formats", () => {
  const pairs = [{ purpose: "account_servicing", scope: "balance:read" }];
  it("hashes a format 1 entry (no pairs) without a pairs member, whether pairs is absent or null", () => {
    expect(hashedFields(entry)).not.toHaveProperty("pairs");
    expect(hashedFields({ ...entry, pairs: null })).not.toHaveProperty("pairs");
    expect(entryHash(GENESIS_HASH, { ...entry, pairs: null })).toBe(entryHash(GENESIS_HASH, entry));
    expect(entryHash(GENESIS_HASH, { ...entry, pairs: undefined })).toBe(entryHash(GENESIS_HASH, entry));
  });
  it("hashes a format 2 entry's pairs as stored, so rewritten pairs no longer verify", () => {
    expect(canonicalJson(hashedFields({ ...entry, pairs }))).toContain('"pairs":[{"purpose":"account_servicing","scope":"balance:read"}]');
    const h = entryHash(GENESIS_HASH, { ...entry, pairs });
    expect(h).not.toBe(entryHash(GENESIS_HASH, entry));
    expect(entryHash(GENESIS_HASH, { ...entry, pairs: [{ scope: "balance:read", purpose: "fraud_alerts" }] })).not.toBe(h);
    expect(entryHash(GENESIS_HASH, { ...entry, pairs: [] })).not.toBe(h);
  });
});
