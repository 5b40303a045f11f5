import { createHash, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basic, clientConfig, postForm, registerClient, startRunningBroker, type Registered, type RunningBroker } from "./support/oauth.ts";
import { insertLink } from "./support/link-row.ts";

const verifier = () => oidc.randomPKCECodeVerifier();
const challengeOf = (v: string) => createHash("sha256").update(v).digest("base64url");

describe("OAuth: PAR, authorization codes, refresh tokens, DPoP", () => {
  let broker: RunningBroker;
  let url: string;
  let offset = 0;
  const clock = { now: () => new Date(Date.now() + offset) };
  let bank: Registered;
  let otherBank: Registered;
  let dpopBank: Registered;

  beforeAll(async () => {
    broker = await startRunningBroker({
      deps: { clock },
      setup: (app) => {
        app.get("/test/ledger", { preHandler: app.modules.oauth.requireScope("ledger:check"), config: { errorFormat: "oauth" } }, async (request) => ({ client_id: request.token!.clientId }));
      },
    });
    url = broker.url;
    const meta = { scope: "balance:read transactions:read alerts:fraud" };
    bank = await registerClient(url, meta);
    otherBank = await registerClient(url, meta);
    dpopBank = await registerClient(url, { ...meta, dpop_bound_access_tokens: true });
  });
  afterAll(() => broker?.close());

  /** What the linking flow does inside its consent transaction: the link, a ledger grant, then the code. */
  async function issueCode(client: Registered, codeVerifier: string, scopes = ["balance:read"]) {
    const linkId = randomUUID();
    return broker.db.transaction(async (tx) => {
      const { consentId } = await broker.app.modules.ledger.ledger.grant({ clientId: client.client_id, subject: "customer-1", linkId, psid: "psid-1", scopes, actor: "customer" }, { tx });
      await insertLink(tx, { id: linkId, clientId: client.client_id, subject: "customer-1", psid: linkId, consentId });
      return broker.app.modules.oauth.issueAuthorizationCode(tx, { clientId: client.client_id, linkId, attemptId: randomUUID(), consentId, subject: "customer-1", scopes, codeChallenge: challengeOf(codeVerifier) });
    });
  }
  const exchange = (client: Registered, code: string, codeVerifier?: string) =>
    postForm(`${url}/oauth/token`, { grant_type: "authorization_code", code, ...(codeVerifier !== undefined ? { code_verifier: codeVerifier } : {}) }, { authorization: basic(client.client_id, client.client_secret!) });
  const refresh = (client: Registered, refreshToken: string) =>
    postForm(`${url}/oauth/token`, { grant_type: "refresh_token", refresh_token: refreshToken }, { authorization: basic(client.client_id, client.client_secret!) });
  const introspect = (client: Registered, token: string) => postForm(`${url}/oauth/introspect`, { token }, { authorization: basic(client.client_id, client.client_secret!) });

  it("pushes an authorization request (RFC 9126): single use, bound to its client", async () => {
    const res = await postForm(`${url}/par`, { scope: "balance:read alerts:fraud", code_challenge: challengeOf(verifier()), code_challenge_method: "S256" }, { authorization: basic(bank.client_id, bank.client_secret!) });
    expect(res.status).toBe(201);
    expect(res.json.expires_in).toBeLessThan(600);
    const requestUri = res.json.request_uri as string;
    expect(await broker.app.modules.oauth.consumePushedRequest(otherBank.client_id, requestUri)).toBeUndefined();
    const params = await broker.app.modules.oauth.consumePushedRequest(bank.client_id, requestUri);
    expect(params).toMatchObject({ scopes: ["balance:read", "alerts:fraud"], purposes: ["account_servicing", "fraud_alerts"], consent_duration_days: 90, code_challenge_method: "S256" });
    expect(await broker.app.modules.oauth.consumePushedRequest(bank.client_id, requestUri)).toBeUndefined();
  });

  it.each([
    [{ code_challenge_method: "plain" }, "invalid_request", /S256/],
    [{ purpose: "advertising" }, "invalid_request", /advertising/],
    [{ scope: "balance:read wallet:drain" }, "invalid_scope", /unknown scope/],
    [{ scope: "ledger:check" }, "invalid_scope", /service scope/],
    [{ consent_duration_days: "400" }, "invalid_request", /consent_duration_days/],
  ])("refuses a pushed request with %j", async (override, error, description) => {
    const res = await postForm(`${url}/par`, { scope: "balance:read", code_challenge: challengeOf(verifier()), code_challenge_method: "S256", ...override }, { authorization: basic(bank.client_id, bank.client_secret!) });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe(error);
    expect(res.json.error_description).toMatch(description);
  });

  it("exchanges a code with openid-client, and a replayed code revokes what it issued", async () => {
    const v = verifier();
    const code = await issueCode(bank, v);
    const row = await broker.db.prisma.authorizationCode.findFirstOrThrow({ where: { clientId: bank.client_id } });
    expect(row.codeHash).not.toBe(code);
    expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBeLessThanOrEqual(60_000);

    const config = await clientConfig(url, bank.client_id, oidc.ClientSecretBasic(bank.client_secret!));
    const tokens = await oidc.authorizationCodeGrant(config, new URL(`https://messenger.example/cb?code=${code}`), { pkceCodeVerifier: v });
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.scope).toBe("balance:read");
    const claims = tokens.claims?.() ?? JSON.parse(Buffer.from(tokens.access_token.split(".")[1]!, "base64url").toString());
    expect(claims).toMatchObject({ sub: "customer-1", client_id: bank.client_id, iss: url, aud: url });
    expect(claims.link_id).toBeTruthy();
    expect(claims.consent_id).toBeTruthy();
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(900);
    expect((await introspect(bank, tokens.access_token)).json.active).toBe(true);

    const replay = await exchange(bank, code, v);
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe("invalid_grant");
    expect((await introspect(bank, tokens.access_token)).json.active).toBe(false);
    expect((await refresh(bank, tokens.refresh_token!)).json.error).toBe("invalid_grant");
  });

  it("refuses PKCE plain, a missing or wrong verifier, another client and an expired code", async () => {
    const v = verifier();
    const code = await issueCode(bank, v);
    for (const [client, codeVerifier] of [
      [bank, challengeOf(v)], // plain: the challenge sent as verifier
      [bank, undefined],
      [bank, verifier()],
      [otherBank, v],
    ] as const) {
      const res = await exchange(client, code, codeVerifier);
      expect(res.status).toBe(400);
      expect(res.json.error).toBe("invalid_grant");
    }
    // None of those consumed the code.
    expect((await exchange(bank, code, v)).status).toBe(200);

    const v2 = verifier();
    const expired = await issueCode(bank, v2);
    offset = 61_000;
    try {
      const res = await exchange(bank, expired, v2);
      expect(res.json).toMatchObject({ error: "invalid_grant", error_description: expect.stringMatching(/expired/) });
    } finally {
      offset = 0;
    }
  });

  it("rotates refresh tokens, and reuse of an old one revokes the whole grant", async () => {
    const v = verifier();
    const first = (await exchange(bank, await issueCode(bank, v), v)).json;
    const second = await refresh(bank, first.refresh_token as string);
    expect(second.status).toBe(200);
    expect(second.json.refresh_token).toBeTruthy();
    expect(second.json.refresh_token).not.toBe(first.refresh_token);
    expect((await refresh(otherBank, second.json.refresh_token as string)).json.error).toBe("invalid_grant");

    const reuse = await refresh(bank, first.refresh_token as string);
    expect(reuse.json.error).toBe("invalid_grant");
    expect((await refresh(bank, second.json.refresh_token as string)).json.error).toBe("invalid_grant");
    expect((await introspect(bank, second.json.access_token as string)).json.active).toBe(false);
  });

  it("two uses of one refresh token at the same moment: one rotates, the other is reuse and ends the grant", async () => {
    const v = verifier();
    const first = (await exchange(bank, await issueCode(bank, v), v)).json;
    const both = await Promise.all([refresh(bank, first.refresh_token as string), refresh(bank, first.refresh_token as string)]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 400]);
    const won = both.find((r) => r.status === 200)!.json;
    expect(both.find((r) => r.status === 400)!.json.error).toBe("invalid_grant");
    // The winner's new tokens were written, then revoked with the grant.
    expect((await introspect(bank, won.access_token as string)).json.active).toBe(false);
    expect((await introspect(bank, won.refresh_token as string)).json.active).toBe(false);
    expect((await refresh(bank, won.refresh_token as string)).json.error).toBe("invalid_grant");
  });

  it("a rotation writes the next refresh token and the access token with the consent's expiry", async () => {
    const v = verifier();
    const first = (await exchange(bank, await issueCode(bank, v), v)).json;
    const next = (await refresh(bank, first.refresh_token as string)).json;
    const rows = await broker.db.prisma.refreshToken.findMany({ where: { grantId: (await broker.db.prisma.refreshToken.findUniqueOrThrow({ where: { tokenHash: createHash("sha256").update(first.refresh_token as string).digest("hex") } })).grantId }, orderBy: { createdAt: "asc" } });
    expect(rows).toHaveLength(2);
    expect(rows[0]!.rotatedAt).not.toBeNull();
    expect(rows[1]!.rotatedAt).toBeNull();
    expect(rows[1]!.expiresAt.getTime()).toBe(rows[0]!.expiresAt.getTime());
    const at = await broker.db.prisma.accessToken.findUnique({ where: { jti: JSON.parse(Buffer.from((next.access_token as string).split(".")[1]!, "base64url").toString()).jti } });
    expect(at?.grantId).toBe(rows[0]!.grantId);
    expect((await introspect(bank, next.refresh_token as string)).json.active).toBe(true);
  });

  it("ends the grant when a refresh token is revoked", async () => {
    const v = verifier();
    const t = (await exchange(bank, await issueCode(bank, v), v)).json;
    const config = await clientConfig(url, bank.client_id, oidc.ClientSecretBasic(bank.client_secret!));
    expect((await oidc.tokenIntrospection(config, t.refresh_token as string)).active).toBe(true);
    await oidc.tokenRevocation(config, t.refresh_token as string);
    expect((await oidc.tokenIntrospection(config, t.access_token as string)).active).toBe(false);
    expect((await refresh(bank, t.refresh_token as string)).json.error).toBe("invalid_grant");
  });

  it("revokes every grant of a link (unlinking)", async () => {
    const v = verifier();
    const code = await issueCode(bank, v);
    const t = (await exchange(bank, code, v)).json;
    const { linkId } = await broker.db.prisma.authorizationCode.findFirstOrThrow({ where: { grantId: { not: null }, clientId: bank.client_id }, orderBy: { createdAt: "desc" } });
    expect(await broker.app.modules.oauth.revokeGrantsOfLink(linkId, "unlinked")).toBe(1);
    expect((await introspect(bank, t.access_token as string)).json.active).toBe(false);
  });

  it("binds tokens to a DPoP key with openid-client (nonce flow included); not rotated; refused without the proof", async () => {
    const config = await clientConfig(url, dpopBank.client_id, oidc.ClientSecretBasic(dpopBank.client_secret!));
    const keyPair = await oidc.randomDPoPKeyPair();
    const DPoP = oidc.getDPoPHandle(config, keyPair);
    const v = verifier();
    const code = await issueCode(dpopBank, v);
    const withoutProof = await exchange(dpopBank, code, v);
    expect(withoutProof.status).toBe(400);
    const tokens = await oidc.authorizationCodeGrant(config, new URL(`https://messenger.example/cb?code=${code}`), { pkceCodeVerifier: v }, undefined, { DPoP });
    expect(tokens.token_type).toBe("dpop");
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    const claims = JSON.parse(Buffer.from(tokens.access_token.split(".")[1]!, "base64url").toString());
    expect(claims.cnf).toEqual({ jkt });
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    expect(introspected).toMatchObject({ active: true, token_type: "DPoP", cnf: { jkt } });

    const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
    expect(refreshed.refresh_token).toBeUndefined();
    const again = await oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP });
    expect(again.access_token).toBeTruthy();
    const noProof = await refresh(dpopBank, tokens.refresh_token!);
    expect(noProof.status).toBe(400);
    const otherKey = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    await expect(oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP: otherKey })).rejects.toMatchObject({ error: "invalid_dpop_proof" });
  });

  it("accepts DPoP from any client, and the resource refuses the token without its proof", async () => {
    const service = await registerClient(url, { grant_types: ["client_credentials"], scope: "ledger:check" });
    const config = await clientConfig(url, service.client_id, oidc.ClientSecretBasic(service.client_secret!));
    const DPoP = oidc.getDPoPHandle(config, await oidc.randomDPoPKeyPair());
    const tokens = await oidc.clientCredentialsGrant(config, undefined, { DPoP });
    expect(tokens.token_type).toBe("dpop");
    const ok = await oidc.fetchProtectedResource(config, tokens.access_token, new URL(`${url}/test/ledger`), "GET", null, undefined, { DPoP });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ client_id: service.client_id });
    for (const scheme of ["DPoP", "Bearer"]) {
      const res = await fetch(`${url}/test/ledger`, { headers: { authorization: `${scheme} ${tokens.access_token}` } });
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toMatch(/DPoP|Bearer/);
    }
    const bearer = await oidc.clientCredentialsGrant(config);
    const plain = await fetch(`${url}/test/ledger`, { headers: { authorization: `Bearer ${bearer.access_token}` } });
    expect(plain.status).toBe(200);
    const audit = await registerClient(url, { grant_types: ["client_credentials"], scope: "ledger:audit" });
    const auditToken = (await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { authorization: basic(audit.client_id, audit.client_secret!) })).json.access_token;
    expect((await fetch(`${url}/test/ledger`, { headers: { authorization: `Bearer ${auditToken}` } })).status).toBe(403);
  });

  it("refuses a replayed DPoP proof, after the DPoP-Nonce flow", async () => {
    const service = await registerClient(url, { grant_types: ["client_credentials"], scope: "ledger:check" });
    const { privateKey, publicKey } = (await generateKeyPair("ES256")) as { privateKey: CryptoKey; publicKey: CryptoKey };
    const jwk = await exportJWK(publicKey);
    const proof = (nonce?: string) =>
      new SignJWT({ jti: randomUUID(), htm: "POST", htu: `${url}/oauth/token`, ...(nonce ? { nonce } : {}) })
        .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
        .setIssuedAt()
        .sign(privateKey);
    const auth = { authorization: basic(service.client_id, service.client_secret!) };
    const first = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { ...auth, dpop: await proof() });
    expect(first.status).toBe(400);
    expect(first.json.error).toBe("use_dpop_nonce");
    const nonce = first.headers.get("dpop-nonce")!;
    expect(nonce).toBeTruthy();
    const p = await proof(nonce);
    const ok = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { ...auth, dpop: p });
    expect(ok.status).toBe(200);
    expect(ok.json.token_type).toBe("DPoP");
    const replay = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { ...auth, dpop: p });
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe("invalid_dpop_proof");
    const wrongHtu = await new SignJWT({ jti: randomUUID(), htm: "POST", htu: `${url}/other`, nonce })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
      .setIssuedAt()
      .sign(privateKey);
    expect((await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { ...auth, dpop: wrongHtu })).json.error).toBe("invalid_dpop_proof");
    const old = await new SignJWT({ jti: randomUUID(), htm: "POST", htu: `${url}/oauth/token`, nonce })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk })
      .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
      .sign(privateKey);
    expect((await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { ...auth, dpop: old })).json.error).toBe("invalid_dpop_proof");
  });
});
