import { describe, expect, it } from "vitest";
import { isForbiddenPurpose, normalizePolicyText } from "./policy.ts";

describe("the never-advertising rule's one normalisation", () => {
  it("finds advertising, marketing and profiling however they are written", () => {
    for (const text of ["advertising", "Advertisers", "MARKETING", "pro_filing", "ad-vertising", "ａｄｖｅｒｔｉｓｉｎｇ", "https://x.example/Marketing/", "Profiling Ltd"]) {
      expect(isForbiddenPurpose(text), text).toBe(true);
    }
  });

  it("leaves every other purpose and name alone", () => {
    for (const text of ["account_servicing", "fraud_alerts", "customer_support", "transaction_notifications", "Sandbox Bank", "profile", "market data"]) {
      expect(isForbiddenPurpose(text), text).toBe(false);
    }
    expect(normalizePolicyText("Ad-Vertising 2")).toBe("advertising");
  });
});
