// The consent policy of DESIGN.md, without a database: which scopes and purposes exist, what a
// request naming no purpose gets, which (scope, purpose) pairs a grant may hold, and how pairs are
// ordered and compared (the order they are stored and hashed in).
import { describe, expect, it } from "vitest";
import { LedgerError } from "./ledger-errors.ts";
import {
  assertPair,
  assertPurpose,
  assertScope,
  comparePairs,
  CUSTOMER_SCOPES,
  DAY_MS,
  DEFAULT_PURPOSE,
  defaultPurposes,
  hasPair,
  isPurpose,
  isScope,
  legacyPairs,
  normalizeGrant,
  pairSets,
  pairsFrom,
  PURPOSE_DESCRIPTIONS,
  PURPOSES,
  SCOPE_DESCRIPTIONS,
  SCOPE_PURPOSES,
  sortPairs,
} from "./policy.ts";

/** The error code a call throws, or "none". */
function codeOf(f: () => unknown): string {
  try {
    f();
    return "none";
  } catch (e) {
    return e instanceof LedgerError ? e.code : `not a LedgerError: ${String(e)}`;
  }
}

describe("scopes and purposes", () => {
  it("knows exactly the customer scopes and purposes, and nothing else", () => {
    for (const s of CUSTOMER_SCOPES) expect(isScope(s), s).toBe(true);
    for (const p of PURPOSES) expect(isPurpose(p), p).toBe(true);
    for (const s of ["", "balance", "balance:write", "BALANCE:READ", "account_servicing"]) expect(isScope(s), s).toBe(false);
    for (const p of ["", "fraud", "Fraud_Alerts", "balance:read", "advertising"]) expect(isPurpose(p), p).toBe(false);
  });

  it("describes every scope and every purpose to the customer", () => {
    expect(Object.keys(SCOPE_DESCRIPTIONS).sort()).toEqual([...CUSTOMER_SCOPES].sort());
    expect(Object.keys(PURPOSE_DESCRIPTIONS).sort()).toEqual([...PURPOSES].sort());
    for (const text of [...Object.values(SCOPE_DESCRIPTIONS), ...Object.values(PURPOSE_DESCRIPTIONS)]) expect(text.trim()).not.toBe("");
  });

  it("gives each scope its own default purpose", () => {
    expect(DEFAULT_PURPOSE).toEqual({ "balance:read": "account_servicing", "transactions:read": "account_servicing", "alerts:fraud": "fraud_alerts", "support:chat": "customer_support" });
    expect(defaultPurposes(["support:chat", "balance:read", "transactions:read", "nope"])).toEqual(["customer_support", "account_servicing"]);
  });

  it("lets each scope serve only its own purposes", () => {
    expect(SCOPE_PURPOSES).toEqual({
      "balance:read": ["account_servicing"],
      "transactions:read": ["account_servicing", "transaction_notifications"],
      "alerts:fraud": ["fraud_alerts"],
      "support:chat": ["customer_support"],
    });
  });

  it("counts durations in days of 24 hours", () => {
    expect(DAY_MS).toBe(86_400_000);
  });

  it("refuses unknown scopes and purposes, and forbidden purposes as forbidden", () => {
    expect(assertScope("alerts:fraud")).toBe("alerts:fraud");
    expect(codeOf(() => assertScope("alerts:all"))).toBe("invalid_scope");
    expect(assertPurpose("fraud_alerts")).toBe("fraud_alerts");
    expect(codeOf(() => assertPurpose("fraud"))).toBe("invalid_purpose");
    expect(codeOf(() => assertPurpose("Marketing"))).toBe("purpose_forbidden");
  });
});

describe("pairs", () => {
  const p = (scope: string, purpose: string) => ({ scope, purpose });

  it("orders by scope, then purpose, by UTF-16 code units", () => {
    expect(comparePairs(p("a", "z"), p("b", "a"))).toBe(-1);
    expect(comparePairs(p("b", "a"), p("a", "z"))).toBe(1);
    expect(comparePairs(p("a", "b"), p("a", "c"))).toBe(-1);
    expect(comparePairs(p("a", "c"), p("a", "b"))).toBe(1);
    expect(comparePairs(p("a", "b"), p("a", "b"))).toBe(0);
    // Code units, not locale: upper case sorts before lower case, "é" after "z".
    expect(comparePairs(p("Z", "x"), p("a", "x"))).toBe(-1);
    expect(comparePairs(p("é", "x"), p("z", "x"))).toBe(1);
  });

  it("sorts and de-duplicates, each pair a fresh object of scope and purpose alone", () => {
    const input = [p("transactions:read", "transaction_notifications"), { ...p("balance:read", "account_servicing"), extra: 1 }, p("transactions:read", "account_servicing"), p("balance:read", "account_servicing")];
    const sorted = sortPairs(input);
    expect(sorted).toEqual([p("balance:read", "account_servicing"), p("transactions:read", "account_servicing"), p("transactions:read", "transaction_notifications")]);
    expect(sorted[0]).not.toHaveProperty("extra");
    expect(sorted[0]).not.toBe(input[1]);
  });

  it("spans the sorted scope and purpose sets of a set of pairs", () => {
    expect(pairSets([p("transactions:read", "transaction_notifications"), p("balance:read", "account_servicing"), p("transactions:read", "account_servicing")])).toEqual({
      scopes: ["balance:read", "transactions:read"],
      purposes: ["account_servicing", "transaction_notifications"],
    });
  });

  it("holds a pair only when scope and purpose match together", () => {
    const held = [p("balance:read", "account_servicing"), p("alerts:fraud", "fraud_alerts")];
    expect(hasPair(held, "balance:read", "account_servicing")).toBe(true);
    expect(hasPair(held, "alerts:fraud", "fraud_alerts")).toBe(true);
    expect(hasPair(held, "balance:read", "fraud_alerts")).toBe(false);
    expect(hasPair(held, "alerts:fraud", "account_servicing")).toBe(false);
    expect(hasPair([], "balance:read", "account_servicing")).toBe(false);
  });

  it("validates an explicit pair: an object of a known scope and an allowed purpose", () => {
    expect(assertPair({ scope: "balance:read", purpose: "account_servicing", note: "x" })).toEqual(p("balance:read", "account_servicing"));
    for (const bad of [null, "balance:read", 7, ["balance:read", "account_servicing"]]) expect(codeOf(() => assertPair(bad)), JSON.stringify(bad)).toBe("invalid_request");
    expect(codeOf(() => assertPair({ scope: "balance:write", purpose: "account_servicing" }))).toBe("invalid_scope");
    expect(codeOf(() => assertPair({ scope: "balance:read", purpose: "profiling" }))).toBe("purpose_forbidden");
    expect(codeOf(() => assertPair({ scope: "balance:read", purpose: "unknown" }))).toBe("invalid_purpose");
  });
});

describe("pairs a grant holds", () => {
  const p = (scope: string, purpose: string) => ({ scope, purpose });

  it("pairs each scope with its own purpose when no purpose is named", () => {
    expect(pairsFrom(["support:chat", "balance:read"], undefined)).toEqual([p("balance:read", "account_servicing"), p("support:chat", "customer_support")]);
    expect(pairsFrom(["alerts:fraud"], [])).toEqual([p("alerts:fraud", "fraud_alerts")]);
  });

  it("pairs a named purpose with every requested scope that serves it, and nothing else", () => {
    expect(pairsFrom(["transactions:read", "balance:read"], ["account_servicing", "transaction_notifications"])).toEqual([
      p("balance:read", "account_servicing"),
      p("transactions:read", "account_servicing"),
      p("transactions:read", "transaction_notifications"),
    ]);
    expect(pairsFrom(["transactions:read"], ["transaction_notifications", "transaction_notifications"])).toEqual([p("transactions:read", "transaction_notifications")]);
  });

  it("refuses a scope no named purpose fits, and a named purpose no scope serves", () => {
    // balance:read cannot serve fraud_alerts: refused, not paired with something unasked.
    expect(codeOf(() => pairsFrom(["balance:read"], ["fraud_alerts"]))).toBe("invalid_purpose");
    expect(codeOf(() => pairsFrom(["balance:read", "alerts:fraud"], ["fraud_alerts"]))).toBe("invalid_purpose");
    expect(codeOf(() => pairsFrom(["alerts:fraud"], ["fraud_alerts", "customer_support"]))).toBe("invalid_purpose");
    expect(codeOf(() => pairsFrom(["alerts:fraud"], ["advertising"]))).toBe("purpose_forbidden");
  });

  it("normalises a grant from scopes and purposes, or from explicit pairs that win", () => {
    expect(normalizeGrant(["transactions:read", "balance:read", "balance:read"], undefined)).toEqual({
      scopes: ["balance:read", "transactions:read"],
      purposes: ["account_servicing"],
      pairs: [p("balance:read", "account_servicing"), p("transactions:read", "account_servicing")],
    });
    expect(normalizeGrant(["support:chat"], ["customer_support"], [p("balance:read", "fraud_alerts"), p("balance:read", "fraud_alerts")])).toEqual({
      scopes: ["balance:read"],
      purposes: ["fraud_alerts"],
      pairs: [p("balance:read", "fraud_alerts")],
    });
  });

  it("refuses a grant of nothing, or of anything unknown", () => {
    for (const scopes of [undefined, [], "balance:read" as unknown as string[]]) expect(codeOf(() => normalizeGrant(scopes, undefined)), JSON.stringify(scopes)).toBe("invalid_scope");
    for (const pairs of [[], "x" as unknown as unknown[]]) expect(codeOf(() => normalizeGrant(["balance:read"], undefined, pairs)), JSON.stringify(pairs)).toBe("invalid_scope");
    expect(codeOf(() => normalizeGrant(["balance:read", "balance:write"], undefined))).toBe("invalid_scope");
    expect(codeOf(() => normalizeGrant(undefined, undefined, [{ scope: "balance:read", purpose: "marketing" }]))).toBe("purpose_forbidden");
  });
});

describe("pairs of a consent recorded as two sets (ledger format 1)", () => {
  const p = (scope: string, purpose: string) => ({ scope, purpose });

  it("pairs each scope with its default purpose when that purpose was consented to", () => {
    expect(legacyPairs(["balance:read", "alerts:fraud"], ["account_servicing", "fraud_alerts"])).toEqual([p("alerts:fraud", "fraud_alerts"), p("balance:read", "account_servicing")]);
  });

  it("keeps every consented purpose for a scope whose default purpose was not, and for an unknown scope", () => {
    expect(legacyPairs(["transactions:read"], ["transaction_notifications"])).toEqual([p("transactions:read", "transaction_notifications")]);
    expect(legacyPairs(["balance:read", "old:scope"], ["account_servicing", "fraud_alerts"])).toEqual([
      p("balance:read", "account_servicing"),
      p("old:scope", "account_servicing"),
      p("old:scope", "fraud_alerts"),
    ]);
    expect(legacyPairs([], ["account_servicing"])).toEqual([]);
  });
});
