import { describe, expect, it } from "vitest";
import { hashToken } from "../../crypto/hash.ts";
import type { ClientRow } from "../clients/client-repo.ts";
import type { AccessTokenClaims } from "../token/access-token.ts";
import type { GrantRow, RefreshRow } from "../token/tokens-repo.ts";
import { createIntrospectionService } from "./introspect-service.ts";

const NOW = new Date("2030-01-01T00:00:00Z");
const ISSUER = "https://broker.example";
const bankA = { id: "bank-a" } as ClientRow;
const bankB = { id: "bank-b" } as ClientRow;

/** An access token is a JWT-shaped string; the fake verifier knows its claims. */
const jwt = (name: string) => `h.${name}.s`;
const claims = (over: Partial<AccessTokenClaims> = {}): AccessTokenClaims => ({ iss: ISSUER, sub: "cust", aud: ISSUER, client_id: "bank-a", scope: "balance:read", jti: "jti-1", iat: 1_893_455_000, exp: 1_893_456_000, ...over });
const grant = (over: Partial<GrantRow> = {}): GrantRow => ({ id: "g-1", clientId: "bank-a", linkId: "link-1", consentId: "consent-1", subject: "cust", scopes: ["balance:read", "transactions:read"], dpopJkt: null, revokedAt: null, ...over });
/** The consent row the repo reads with every token here. */
const CONSENT = { status: "active", expiresAt: new Date(NOW.getTime() + 86_400_000) };
const refresh = (over: Partial<RefreshRow> = {}): RefreshRow => ({ tokenHash: hashToken("rt-1"), grantId: "g-1", clientId: "bank-a", dpopJkt: null, expiresAt: new Date(NOW.getTime() + 3_600_500), rotatedAt: null, revokedAt: null, createdAt: NOW, ...over });

function setup(state: { tokens?: Record<string, AccessTokenClaims>; accessRows?: Record<string, { revokedAt: Date | null; grantId: string | null }>; grants?: GrantRow[]; refreshes?: RefreshRow[]; feedRevoked?: string[]; clients?: string[]; consentActive?: boolean; answersAtOnce?: boolean } = {}) {
  // The real verifier, revocation mirror and client cache answer at once what they hold in memory.
  const answer = <T>(value: T): T | Promise<T> => (state.answersAtOnce ? value : Promise.resolve(value));
  const calls = { revokeGrant: [] as unknown[], revokeAccessToken: [] as unknown[], feedAdd: [] as unknown[] };
  const service = createIntrospectionService({
    repo: {
      // The repo answers Prisma's promises for some; plain ones do here.
      findAccessTokenGrant: async (jti) => {
        const row = state.accessRows?.[jti];
        return row ? { revokedAt: row.revokedAt, grant: state.grants?.find((g) => g.id === row.grantId) ?? null, consent: CONSENT } : null;
      },
      findRefreshWithGrant: async (hash) => {
        const rt = state.refreshes?.find((r) => r.tokenHash === hash);
        return rt ? { refresh: rt, grant: state.grants?.find((g) => g.id === rt.grantId) ?? null, consent: CONSENT } : null;
      },
      findRefresh: (async (hash: string) => state.refreshes?.find((r) => r.tokenHash === hash) ?? null) as never,
      revokeGrant: async (...args) => {
        calls.revokeGrant.push(args);
      },
      revokeAccessToken: async (...args) => {
        calls.revokeAccessToken.push(args);
      },
    },
    accessTokens: { verify: (token) => answer(state.tokens?.[token]) },
    feed: {
      isRevoked: (jti) => answer((state.feedRevoked ?? []).includes(jti)),
      add: (...args) => {
        calls.feedAdd.push(args);
      },
    },
    clientExists: (id) => answer((state.clients ?? ["bank-a", "bank-b"]).includes(id)),
    clock: { now: () => NOW },
    // The ledger's rule on the consent row read with the token; here the state decides.
    consentUntil: (consent) => (consent === CONSENT && (state.consentActive ?? true) ? consent.expiresAt : undefined),
    issuer: ISSUER,
  });
  return { service, calls };
}

describe("introspecting an access token", () => {
  const linked = claims({ link_id: "link-1", consent_id: "consent-1" });
  const live = { tokens: { [jwt("a")]: linked }, accessRows: { "jti-1": { revokedAt: null, grantId: "g-1" } }, grants: [grant()] };

  it("answers the live token's claims to the client it was issued to", async () => {
    const { service } = setup(live);
    expect(await service.introspect(bankA, jwt("a"))).toEqual({
      active: true,
      scope: "balance:read",
      client_id: "bank-a",
      token_type: "Bearer",
      exp: 1_893_456_000,
      iat: 1_893_455_000,
      sub: "cust",
      aud: ISSUER,
      iss: ISSUER,
      jti: "jti-1",
      link_id: "link-1",
      consent_id: "consent-1",
    });
  });

  it("a DPoP-bound token says so, with its key thumbprint", async () => {
    const { service } = setup({ tokens: { [jwt("c")]: claims({ cnf: { jkt: "thumb" } }) } });
    expect(await service.introspect(bankA, jwt("c"))).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt: "thumb" } });
  });

  it("a client_credentials token answers no link, consent or key", async () => {
    const { service } = setup({ tokens: { [jwt("c")]: claims() } });
    const answer = await service.introspect(bankA, jwt("c"));
    expect(answer).toMatchObject({ active: true, token_type: "Bearer" });
    expect(answer).not.toHaveProperty("cnf");
    expect(answer).not.toHaveProperty("link_id");
    expect(answer).not.toHaveProperty("consent_id");
  });

  it("a linked token that cannot be traced to its row and grant is inactive, whatever its signature", async () => {
    // Its row gone (or never written), or written without its grant: nothing ties it to a consent.
    expect(await setup({ ...live, accessRows: {} }).service.introspect(bankA, jwt("a"))).toEqual({ active: false });
    expect(await setup({ ...live, accessRows: { "jti-1": { revokedAt: null, grantId: null } } }).service.introspect(bankA, jwt("a"))).toEqual({ active: false });
  });

  it("another client's token is inactive to the caller", async () => {
    const { service } = setup(live);
    expect(await service.introspect(bankB, jwt("a"))).toEqual({ active: false });
  });

  it.each([
    ["a token that does not verify", { tokens: {} }],
    ["a revoked token", { accessRows: { "jti-1": { revokedAt: NOW, grantId: "g-1" } } }],
    ["a token whose grant is gone", { grants: [] }],
    ["a token whose grant was revoked", { grants: [grant({ revokedAt: NOW })] }],
  ])("%s is inactive", async (_, over) => {
    const { service, calls } = setup({ ...live, ...over });
    expect(await service.introspect(bankA, jwt("a"))).toEqual({ active: false });
    expect(calls.revokeGrant).toEqual([]);
  });

  it("a token whose consent ended is inactive, and its grant is revoked", async () => {
    const { service, calls } = setup({ ...live, consentActive: false });
    expect(await service.introspect(bankA, jwt("a"))).toEqual({ active: false });
    expect(calls.revokeGrant).toEqual([["g-1", "consent_inactive", NOW]]);
  });

  it("a client_credentials token is inactive once revoked, or once its client is deleted", async () => {
    const token = { [jwt("c")]: claims() };
    expect(await setup({ tokens: token, feedRevoked: ["jti-1"] }).service.introspect(bankA, jwt("c"))).toEqual({ active: false });
    expect(await setup({ tokens: token, clients: ["bank-b"] }).service.introspect(bankA, jwt("c"))).toEqual({ active: false });
    expect(await setup({ tokens: token }).service.liveAccessToken(jwt("c"))).toEqual(claims());
  });

  it("answers from memory without a promise, and still refuses what memory says is revoked or gone", async () => {
    const token = { [jwt("c")]: claims() };
    expect(setup({ tokens: token, answersAtOnce: true }).service.liveAccessToken(jwt("c"))).toEqual(claims());
    expect(setup({ tokens: token, answersAtOnce: true, feedRevoked: ["jti-1"] }).service.liveAccessToken(jwt("c"))).toBeUndefined();
    expect(setup({ tokens: token, answersAtOnce: true, clients: ["bank-b"] }).service.liveAccessToken(jwt("c"))).toBeUndefined();
    expect(setup({ answersAtOnce: true }).service.liveAccessToken(jwt("c"))).toBeUndefined();
    expect(await setup({ tokens: token, answersAtOnce: true, feedRevoked: ["jti-1"] }).service.introspect(bankA, jwt("c"))).toEqual({ active: false });
    expect(await setup({ tokens: token, answersAtOnce: true }).service.introspect(bankB, jwt("c"))).toEqual({ active: false });
    // A linked token is always traced to its row, even when its signature is known.
    const linked = { tokens: { [jwt("a")]: claims({ link_id: "link-1", consent_id: "consent-1" }) }, answersAtOnce: true };
    expect(await setup(linked).service.liveAccessToken(jwt("a"))).toBeUndefined();
  });
});

describe("introspecting a refresh token", () => {
  const live = { refreshes: [refresh()], grants: [grant()] };

  it("answers the grant's scopes, subject, link and consent to the client it was issued to", async () => {
    const { service } = setup(live);
    expect(await service.introspect(bankA, "rt-1")).toEqual({
      active: true,
      scope: "balance:read transactions:read",
      client_id: "bank-a",
      token_type: "refresh_token",
      exp: Math.floor((NOW.getTime() + 3_600_500) / 1000),
      iss: ISSUER,
      sub: "cust",
      link_id: "link-1",
      consent_id: "consent-1",
    });
  });

  it("a DPoP-bound refresh token carries its key thumbprint; a grant without link says none", async () => {
    const { service } = setup({ refreshes: [refresh({ dpopJkt: "thumb" })], grants: [grant({ linkId: null, consentId: null, subject: null })] });
    const answer = await service.introspect(bankA, "rt-1");
    expect(answer).toMatchObject({ active: true, cnf: { jkt: "thumb" } });
    expect(answer).not.toHaveProperty("sub");
    expect(answer).not.toHaveProperty("link_id");
    expect(answer).not.toHaveProperty("consent_id");
    expect((await setup(live).service.introspect(bankA, "rt-1")) as object).not.toHaveProperty("cnf");
  });

  it("another client's refresh token is inactive to the caller", async () => {
    expect(await setup(live).service.introspect(bankB, "rt-1")).toEqual({ active: false });
  });

  it.each([
    ["unknown", { refreshes: [] }],
    ["revoked", { refreshes: [refresh({ revokedAt: NOW })] }],
    ["rotated (used once)", { refreshes: [refresh({ rotatedAt: NOW })] }],
    ["expiring now", { refreshes: [refresh({ expiresAt: NOW })] }],
    ["of a missing grant", { grants: [] }],
    ["of a revoked grant", { grants: [grant({ revokedAt: NOW })] }],
  ])("a refresh token %s is inactive", async (_, over) => {
    const { service, calls } = setup({ ...live, ...over });
    expect(await service.introspect(bankA, "rt-1")).toEqual({ active: false });
    expect(calls.revokeGrant).toEqual([]);
  });

  it("a refresh token whose consent ended is inactive, and its grant is revoked", async () => {
    const { service, calls } = setup({ ...live, consentActive: false });
    expect(await service.introspect(bankA, "rt-1")).toEqual({ active: false });
    expect(calls.revokeGrant).toEqual([["g-1", "consent_inactive", NOW]]);
  });
});

describe("revocation", () => {
  it("revokes the caller's own access token until it expires, in the database and in this process at once", async () => {
    const { service, calls } = setup({ tokens: { [jwt("a")]: claims() } });
    await service.revoke(bankA, jwt("a"));
    const exp = new Date(1_893_456_000 * 1000);
    expect(calls.revokeAccessToken).toEqual([["jti-1", "bank-a", exp, NOW]]);
    expect(calls.feedAdd).toEqual([["jti-1", exp]]);
  });

  it("does nothing for another client's token, or one that does not verify", async () => {
    const { service, calls } = setup({ tokens: { [jwt("a")]: claims() }, refreshes: [refresh()] });
    await service.revoke(bankB, jwt("a"));
    await service.revoke(bankA, jwt("x"));
    await service.revoke(bankB, "rt-1");
    await service.revoke(bankA, "rt-unknown");
    expect(calls).toEqual({ revokeGrant: [], revokeAccessToken: [], feedAdd: [] });
  });

  it("revoking the caller's own refresh token ends its grant", async () => {
    const { service, calls } = setup({ refreshes: [refresh()] });
    await service.revoke(bankA, "rt-1");
    expect(calls.revokeGrant).toEqual([["g-1", "revoked_by_client", NOW]]);
    expect(calls.revokeAccessToken).toEqual([]);
  });
});
