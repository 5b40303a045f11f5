// What the consent page offers and what an approval grants: required pairs always, an optional
// scope's pairs only when ticked, and nothing at all for a form that ticks what was not offered.
import { describe, expect, it } from "vitest";
import { approvedPairs, consentTerms } from "./consent-terms.ts";

const request = { scopes: ["balance:read"], optionalScopes: ["alerts:fraud", "transactions:read"], purposes: ["account_servicing", "fraud_alerts", "transaction_notifications"] };
const pair = (scope: string, purpose: string) => ({ scope, purpose });

describe("consent terms", () => {
  it("splits the offer into required and optional pairs", () => {
    expect(consentTerms(request)).toEqual({
      required: [pair("balance:read", "account_servicing")],
      optional: [pair("alerts:fraud", "fraud_alerts"), pair("transactions:read", "account_servicing"), pair("transactions:read", "transaction_notifications")],
    });
  });

  it("offers only required pairs when nothing is optional", () => {
    const terms = consentTerms({ scopes: ["balance:read", "alerts:fraud"], optionalScopes: null, purposes: [] } as never);
    expect(terms).toEqual({ required: [pair("alerts:fraud", "fraud_alerts"), pair("balance:read", "account_servicing")], optional: [] });
  });
});

describe("approved pairs", () => {
  it("grants the required pairs alone when nothing is ticked", () => {
    expect(approvedPairs(request, [])).toEqual([pair("balance:read", "account_servicing")]);
  });

  it("adds every pair of a ticked optional scope, and none of an unticked one", () => {
    expect(approvedPairs(request, ["transactions:read"])).toEqual([
      pair("balance:read", "account_servicing"),
      pair("transactions:read", "account_servicing"),
      pair("transactions:read", "transaction_notifications"),
    ]);
  });

  it("refuses a form that ticks a scope not offered as optional, even a required one or one the bank holds", () => {
    for (const ticked of [["support:chat"], ["balance:read"], ["alerts:fraud", "support:chat"], ["nonsense"]]) expect(approvedPairs(request, ticked)).toBeUndefined();
    const requiredOnly = { scopes: ["balance:read"], optionalScopes: null, purposes: ["account_servicing"] } as never;
    expect(approvedPairs(requiredOnly, ["alerts:fraud"])).toBeUndefined();
    expect(approvedPairs(requiredOnly, [])).toEqual([pair("balance:read", "account_servicing")]);
  });
});
