import { describe, expect, it } from "vitest";
import { OAuthError } from "../errors.ts";
import { checkRedirectUri, messengerReturnUrl, parsePlainRequest } from "./link-params.ts";
import { canMove, TRANSITIONS } from "./link-attempt.ts";

const ALLOW = ["https://www.facebook.com/messenger_platform/account_linking"];

describe("redirect_uri allowlist", () => {
  it("accepts the prefix and paths under it, as parsed URLs", () => {
    expect(checkRedirectUri("https://www.facebook.com/messenger_platform/account_linking?account_linking_token=x", ALLOW, true)?.href).toContain("account_linking");
    expect(checkRedirectUri("https://www.facebook.com/messenger_platform/account_linking/", ALLOW, true)).toBeDefined();
  });
  it.each([
    "https://www.facebook.com/messenger_platform/account_linking_evil",
    "https://www.facebook.com.evil.example/messenger_platform/account_linking",
    "https://evil.example/?https://www.facebook.com/messenger_platform/account_linking",
    "http://www.facebook.com/messenger_platform/account_linking",
    "https://user:pw@www.facebook.com/messenger_platform/account_linking",
    "https://www.facebook.com/messenger_platform/account_linking#frag",
    "https://www.facebook.com/messenger_platform/../evil",
    "javascript:alert(1)",
    "",
    undefined,
  ])("refuses %s", (uri) => {
    expect(checkRedirectUri(uri, ALLOW, true)).toBeUndefined();
  });
});

describe("messengerReturnUrl", () => {
  it("appends authorization_code with the URL API, keeping the existing query", () => {
    const url = new URL(messengerReturnUrl("https://www.facebook.com/messenger_platform/account_linking?a=1&b=x%20y", "c0de+/="));
    expect(url.searchParams.get("a")).toBe("1");
    expect(url.searchParams.get("b")).toBe("x y");
    expect(url.searchParams.get("authorization_code")).toBe("c0de+/=");
    expect(new URL(messengerReturnUrl("https://x.example/p?authorization_code=old")).searchParams.has("authorization_code")).toBe(false);
  });
});

describe("plain authorization parameters", () => {
  const base = { scope: "balance:read support:chat", code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code_challenge_method: "S256" };
  const client = (scopes: string[]) => ({ scopes, grantTypes: ["authorization_code"] });
  it("defaults purposes from scopes and the duration", () => {
    expect(parsePlainRequest(base, client(["balance:read", "support:chat", "alerts:fraud"]))).toEqual({ scopes: ["balance:read", "support:chat"], optionalScopes: [], purposes: ["account_servicing", "customer_support"], codeChallenge: base.code_challenge, codeChallengeMethod: "S256", consentDurationDays: 90 });
  });
  it("takes optional scopes beside the required ones; their purposes default too", () => {
    expect(parsePlainRequest({ ...base, scope: "balance:read", optional_scope: "alerts:fraud support:chat" }, client(["balance:read", "support:chat", "alerts:fraud"]))).toMatchObject({
      scopes: ["balance:read"],
      optionalScopes: ["alerts:fraud", "support:chat"],
      purposes: ["account_servicing", "fraud_alerts", "customer_support"],
    });
  });
  it.each([
    [{ optional_scope: "balance:read" }],
    [{ optional_scope: "transactions:read" }],
    [{ optional_scope: "ledger:audit" }],
    [{ purpose: "fraud_alerts" }],
    [{ scope: "alerts:fraud" }],
    [{ scope: "transactions:read" }],
    [{ scope: "ledger:check" }],
    [{ purpose: "profiling" }],
    [{ purpose: "advertising" }],
    [{ purpose: "unknown" }],
    [{ code_challenge_method: "plain" }],
    [{ code_challenge: undefined }],
    [{ consent_duration_days: "366" }],
  ])("refuses %o as the PAR endpoint does", (change) => {
    expect(() => parsePlainRequest({ ...base, ...change }, client(["balance:read", "support:chat"]))).toThrow(OAuthError);
  });
});

describe("attempt state machine", () => {
  it("has no way around the second factor and no way out of an ended attempt", () => {
    expect(canMove("started", "second_factor_passed")).toBe(false);
    expect(canMove("authenticated", "consented")).toBe(false);
    expect(canMove("started", "code_issued")).toBe(false);
    for (const end of ["code_issued", "declined", "failed", "expired"] as const) expect(TRANSITIONS[end]).toEqual([]);
  });
});
