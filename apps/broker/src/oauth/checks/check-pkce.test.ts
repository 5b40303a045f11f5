import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { checkCodeChallenge, checkPkce } from "./check-pkce.ts";
import { checkConsentDuration, checkPurposes } from "./check-purposes.ts";
import { checkServiceScope } from "./check-scope.ts";

const verifier = "a".repeat(50);
const challenge = createHash("sha256").update(verifier).digest("base64url");

describe("PKCE", () => {
  it("accepts S256 only", () => {
    expect(checkCodeChallenge(challenge, "S256")).toBe(challenge);
    expect(() => checkCodeChallenge(challenge, "plain")).toThrow(/S256/);
    expect(() => checkCodeChallenge(challenge, undefined)).toThrow(/S256/);
  });
  it("refuses a missing, plain or wrong verifier", () => {
    expect(() => checkPkce(verifier, challenge)).not.toThrow();
    expect(() => checkPkce(undefined, challenge)).toThrow(/required/);
    expect(() => checkPkce(challenge, challenge)).toThrow(/PKCE/);
    expect(() => checkPkce("b".repeat(50), challenge)).toThrow(/PKCE/);
  });
});

describe("purposes and scopes", () => {
  it("defaults purposes per scope and refuses advertising", () => {
    expect(checkPurposes(undefined, ["balance:read", "alerts:fraud"])).toEqual(["account_servicing", "fraud_alerts"]);
    expect(() => checkPurposes("advertising", ["balance:read"])).toThrow(/refused/);
    expect(() => checkPurposes("profiling", ["balance:read"])).toThrow(/refused/);
    expect(checkConsentDuration(undefined)).toBe(90);
    expect(() => checkConsentDuration("366")).toThrow();
    expect(() => checkConsentDuration("0")).toThrow();
  });
  it("gives client_credentials service scopes only", () => {
    expect(checkServiceScope(undefined, ["ledger:check", "balance:read"])).toEqual(["ledger:check"]);
    expect(() => checkServiceScope("balance:read", ["balance:read", "ledger:check"])).toThrow(/client_credentials/);
  });
});
