// What makes a broker access token acceptable to its own APIs, besides the signature (the key
// store's): typ at+jwt, the broker as issuer and audience, an exp still ahead by the broker's
// clock, a jti and a client. The key store here shows the token's header and claims as they are.
import { describe, expect, it } from "vitest";
import { createAccessTokens } from "./access-token.ts";

const ISSUER = "https://broker.example";
const encode = (header: Record<string, unknown>, payload: Record<string, unknown>) => Buffer.from(JSON.stringify({ header, payload })).toString("base64url");

function setup() {
  let now = new Date("2026-06-01T12:00:00Z");
  const keyStore = {
    signer: { sign: async (payload: Record<string, unknown>, header: Record<string, unknown>) => encode(header, payload) },
    verify: async (token: string) => {
      try {
        return JSON.parse(Buffer.from(token, "base64url").toString()) as { header: Record<string, unknown>; payload: Record<string, unknown> };
      } catch {
        return undefined;
      }
    },
  };
  const tokens = createAccessTokens({ keyStore: keyStore as never, issuer: ISSUER, clock: { now: () => now } });
  const sec = () => Math.floor(now.getTime() / 1000);
  const claims = (over: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: ISSUER, sub: "s", client_id: "bank-a", scope: "ledger:check", jti: "j1", iat: sec(), exp: sec() + 600, ...over });
  return { tokens, claims, sec, advance: (ms: number) => (now = new Date(now.getTime() + ms)) };
}

describe("access tokens", () => {
  it("issues ten-minute tokens carrying link, consent and key only when given", async () => {
    const { tokens, sec } = setup();
    const plain = await tokens.issue({ clientId: "bank-a", subject: "bank-a", scopes: ["ledger:check"] });
    expect(plain.claims).toEqual({ iss: ISSUER, aud: ISSUER, sub: "bank-a", client_id: "bank-a", scope: "ledger:check", jti: plain.claims.jti, iat: sec(), exp: sec() + 600 });
    const bound = await tokens.issue({ clientId: "bank-a", subject: "sub-1", scopes: ["balance:read", "alerts:fraud"], linkId: "l", consentId: "c", jkt: "k" });
    expect(bound.claims).toMatchObject({ scope: "balance:read alerts:fraud", link_id: "l", consent_id: "c", cnf: { jkt: "k" } });
    expect(bound.claims.jti).not.toBe(plain.claims.jti);
    expect(await tokens.verify(bound.token)).toEqual(bound.claims);
  });

  it("refuses another type, issuer or audience, a missing jti or client, and a non-numeric exp", async () => {
    const { tokens, claims } = setup();
    const at = { typ: "at+jwt" };
    expect(await tokens.verify(encode(at, claims()))).toMatchObject({ jti: "j1" });
    for (const [header, payload] of [
      [{ typ: "JWT" }, claims()],
      [{}, claims()],
      [at, claims({ iss: "https://other.example" })],
      [at, claims({ aud: "https://other.example" })],
      [at, claims({ exp: "9999999999" })],
      [at, claims({ jti: 1 })],
      [at, claims({ client_id: undefined })],
    ] as const) {
      expect(await tokens.verify(encode(header, payload))).toBeUndefined();
    }
    expect(await tokens.verify("not a token")).toBeUndefined();
    expect(await tokens.verify(42 as never)).toBeUndefined();
  });

  it("takes a token of 4096 characters and refuses a longer one", async () => {
    const { tokens, claims } = setup();
    const sized = (length: number) => {
      for (let pad = 0; pad < 4096; pad++) {
        const t = encode({ typ: "at+jwt" }, claims({ pad: "p".repeat(pad) }));
        if (t.length >= length) return t.length === length ? t : undefined;
      }
    };
    const exact = sized(4096)!;
    expect(exact).toHaveLength(4096);
    expect(await tokens.verify(exact)).toMatchObject({ jti: "j1" });
    const longer = encode({ typ: "at+jwt" }, claims({ pad: "p".repeat(4096) }));
    expect(await tokens.verify(longer)).toBeUndefined();
  });

  it("refuses a token at the second it expires, also once it was accepted before", async () => {
    const { tokens, claims, sec, advance } = setup();
    const token = encode({ typ: "at+jwt" }, claims({ exp: sec() + 60 }));
    expect(await tokens.verify(encode({ typ: "at+jwt" }, claims({ exp: sec() })))).toBeUndefined();
    expect(await tokens.verify(token)).toBeDefined();
    advance(59_000);
    expect(await tokens.verify(token)).toBeDefined();
    advance(1_000);
    expect(await tokens.verify(token)).toBeUndefined();
  });
});
