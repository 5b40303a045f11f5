import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./support/suite-log.ts";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { testConfig, TEST_REGISTRATION_TOKEN } from "./support/app.ts";
import { postForm, registerClient, type Registered, type RunningBroker } from "./support/oauth.ts";
import { bankCalls, startTwoBanks } from "./support/two-banks.ts";

/**
 * One test per authorization or tenant check that, removed on its own, left the rest of the
 * suite green: every token here is a real one, issued by the broker's own endpoints.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("authorization and tenant checks, with real tokens", () => {
  let broker: RunningBroker;
  let url: string;
  let bankA: Registered;
  let bankB: Registered;
  const meta = { scope: "balance:read alerts:fraud ledger:check ledger:audit" };

  beforeAll(async () => {
    ({ broker, url, bankA, bankB } = await startTwoBanks(meta.scope));
  });
  afterAll(() => broker?.close());

  const { auth, token, introspect, revoke, serviceToken, bearer, approve, linkedTokens } = bankCalls(() => broker);

  it("introspection: another client's refresh token and access token are inactive to it", async () => {
    const t = await linkedTokens(bankA);
    expect((await introspect(bankA, t.refresh)).json).toMatchObject({ active: true, client_id: bankA.client_id, token_type: "refresh_token" });
    expect((await introspect(bankA, t.access)).json).toMatchObject({ active: true, client_id: bankA.client_id });
    expect((await introspect(bankB, t.refresh)).json).toEqual({ active: false });
    expect((await introspect(bankB, t.access)).json).toEqual({ active: false });
  });

  it("revocation: another client cannot revoke a bank's refresh or access token", async () => {
    const t = await linkedTokens(bankA);
    expect((await revoke(bankB, t.refresh)).status).toBe(200);
    expect((await revoke(bankB, t.access)).status).toBe(200);
    expect((await introspect(bankA, t.access)).json.active).toBe(true);
    const refreshed = await token(bankA, { grant_type: "refresh_token", refresh_token: t.refresh });
    expect(refreshed.status).toBe(200);
    // The owner can.
    expect((await revoke(bankA, refreshed.json.refresh_token as string)).status).toBe(200);
    expect((await token(bankA, { grant_type: "refresh_token", refresh_token: refreshed.json.refresh_token as string })).json.error).toBe("invalid_grant");
  });

  it("two exchanges of one code at once: one wins, and its tokens are revoked as a replay (10 rounds)", { timeout: 90_000 }, async () => {
    for (let round = 0; round < 10; round++) {
      const a = await approve(bankA);
      const results = await Promise.all([1, 2, 3].map(() => token(bankA, { grant_type: "authorization_code", code: a.code, code_verifier: a.verifier })));
      const won = results.filter((r) => r.status === 200);
      expect(won, `round ${round}`).toHaveLength(1);
      for (const r of results.filter((r) => r.status !== 200)) expect(r.json.error).toBe("invalid_grant");
      expect((await introspect(bankA, won[0]!.json.access_token as string)).json.active, `round ${round}`).toBe(false);
      expect((await token(bankA, { grant_type: "refresh_token", refresh_token: won[0]!.json.refresh_token as string })).json.error, `round ${round}`).toBe("invalid_grant");
    }
  });

  it("ledger:audit: a bank's real token reads only its own consents, receipts and never the export", async () => {
    const mine = await approve(bankA);
    const theirs = await approve(bankB);
    const audit = await serviceToken(bankA, "ledger:audit");
    const list = await fetch(`${url}/ledger/consents?limit=100`, { headers: bearer(audit) });
    expect(list.status).toBe(200);
    const items = ((await list.json()) as { items: { id: string; client_id: string }[] }).items;
    expect(items.map((i) => i.id)).toContain(mine.consentId);
    expect(items.every((i) => i.client_id === bankA.client_id)).toBe(true);
    // Asking for the other bank by name changes nothing.
    const named = await fetch(`${url}/ledger/consents?client_id=${bankB.client_id}`, { headers: bearer(audit) });
    expect(((await named.json()) as { items: unknown[] }).items).toEqual([]);
    expect((await fetch(`${url}/ledger/consents?psid=psid-${theirs.subject}`, { headers: bearer(audit) }).then((r) => r.json()) as { items: unknown[] }).items).toEqual([]);
    expect((await fetch(`${url}/ledger/consents/${mine.consentId}`, { headers: bearer(audit) })).status).toBe(200);
    expect((await fetch(`${url}/ledger/consents/${theirs.consentId}`, { headers: bearer(audit) })).status).toBe(404);
    expect((await fetch(`${url}/ledger/consents/${mine.consentId}/receipt`, { headers: bearer(audit) })).status).toBe(200);
    expect((await fetch(`${url}/ledger/consents/${theirs.consentId}/receipt`, { headers: bearer(audit) })).status).toBe(404);
    expect((await fetch(`${url}/ledger/export?format=jsonl`, { headers: bearer(audit) })).status).toBe(403);
    expect((await fetch(`${url}/ledger/verify`, { headers: bearer(audit) })).status).toBe(403);
    // And ledger:check answers for its own links only.
    const check = await serviceToken(bankA, "ledger:check");
    const ask = (linkId: string) =>
      fetch(`${url}/ledger/check`, { method: "POST", headers: { ...bearer(check), "content-type": "application/json" }, body: JSON.stringify({ link_id: linkId, scope: "balance:read" }) }).then((r) => r.json()) as Promise<{ allowed: boolean; reason: string }>;
    expect(await ask(mine.linkId)).toMatchObject({ allowed: true, reason: "active" });
    expect(await ask(theirs.linkId)).toMatchObject({ allowed: false, reason: "no_consent" });
  });

  it("a deleted client's tokens stop working: access token, refresh token, service token", async () => {
    const doomed = await registerClient(url, meta);
    const t = await linkedTokens(doomed);
    const check = await serviceToken(doomed, "ledger:check");
    const del = await fetch(doomed.registration_client_uri, { method: "DELETE", headers: bearer(doomed.registration_access_token) });
    expect(del.status).toBe(204);
    const res = await fetch(`${url}/ledger/check`, { method: "POST", headers: { ...bearer(check), "content-type": "application/json" }, body: JSON.stringify({ link_id: t.linkId, scope: "balance:read" }) });
    expect(res.status).toBe(401);
    expect((await token(doomed, { grant_type: "refresh_token", refresh_token: t.refresh })).status).toBe(401);
    expect((await broker.app.modules.oauth.introspection.liveAccessToken(t.access))).toBeUndefined();
  });

  it("a revoked access token and a rotated refresh token are inactive; the rest of the grant lives on", async () => {
    const t = await linkedTokens(bankA);
    expect((await revoke(bankA, t.access)).status).toBe(200);
    expect((await introspect(bankA, t.access)).json).toEqual({ active: false });
    const rotated = await token(bankA, { grant_type: "refresh_token", refresh_token: t.refresh });
    expect(rotated.status).toBe(200);
    expect((await introspect(bankA, t.refresh)).json).toEqual({ active: false });
    expect((await introspect(bankA, rotated.json.refresh_token as string)).json).toMatchObject({ active: true, link_id: t.linkId, consent_id: t.consentId });
    expect((await introspect(bankA, rotated.json.access_token as string)).json).toMatchObject({ active: true, link_id: t.linkId });
  });

  // The registration token is the operator's, not compliance's: the whole ledger is read through
  // a staff console session, so that token opens no ledger route, whatever the header's form.
  it("the operator's registration token reads no ledger and never answers /ledger/check", async () => {
    const mine = await approve(bankA);
    const theirs = await approve(bankB);
    for (const authorization of [`Bearer ${TEST_REGISTRATION_TOKEN}`, `bearer ${TEST_REGISTRATION_TOKEN}`, `Bearer ${TEST_REGISTRATION_TOKEN} extra`, `Basic ${TEST_REGISTRATION_TOKEN}`, TEST_REGISTRATION_TOKEN]) {
      const headers = { authorization };
      expect((await fetch(`${url}/ledger/consents?limit=100`, { headers })).status, authorization.slice(0, 12)).toBe(401);
      expect((await fetch(`${url}/ledger/consents/${theirs.consentId}`, { headers })).status).toBe(401);
      expect((await fetch(`${url}/ledger/verify`, { headers })).status).toBe(401);
    }
    const check = await fetch(`${url}/ledger/check`, { method: "POST", headers: { ...bearer(TEST_REGISTRATION_TOKEN), "content-type": "application/json" }, body: JSON.stringify({ link_id: mine.linkId, scope: "balance:read" }) });
    expect(check.status).toBe(401);
  });

  it("a client assertion must name the issuer, as a single string, and nothing else", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k", alg: "ES256" };
    const c = await registerClient(url, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] }, grant_types: ["client_credentials"], scope: "ledger:check" });
    const assertion = async (aud: string) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ jti: randomUUID() }).setProtectedHeader({ alg: "ES256", kid: "k" }).setIssuer(c.client_id).setSubject(c.client_id).setAudience(aud).setIssuedAt(now).setExpirationTime(now + 60).sign(privateKey);
    };
    const asClient = async (path: string, aud: string, body: Record<string, string>) =>
      postForm(`${url}${path}`, { ...body, client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: await assertion(aud) });
    expect((await asClient("/oauth/introspect?x=1", url, { token: "a.b.c" })).status).toBe(200);
    expect((await asClient("/oauth/revoke", url, { token: "a.b.c" })).status).toBe(200);
    expect((await asClient("/oauth/introspect", `${url}/oauth/introspect`, { token: "a.b.c" })).status).toBe(401);
    expect((await asClient("/oauth/revoke", `${url}/oauth/introspect`, { token: "a.b.c" })).status).toBe(401);
    expect((await asClient("/oauth/token", `${url}/oauth/token`, { grant_type: "client_credentials" })).status).toBe(401);
    expect((await asClient("/oauth/introspect", `${url}/`, { token: "a.b.c" })).status).toBe(401);
    expect((await asClient("/oauth/token", url, { grant_type: "client_credentials" })).status).toBe(200);
  });

  describe("across processes: a second broker on the same database", () => {
    let second: Awaited<ReturnType<typeof buildTestApp>>;
    beforeAll(async () => {
      second = await buildTestApp({ config: testConfig({ PUBLIC_URL: url }), db: broker.db, logger: false });
      await second.ready();
    });
    afterAll(() => second?.close());

    const introspectAt = (c: Registered, t: string) =>
      second.inject({ method: "POST", url: "/oauth/introspect", headers: { ...auth(c), "content-type": "application/x-www-form-urlencoded" }, payload: new URLSearchParams({ token: t }).toString() });
    const checkAt = (t: string, linkId: string) => second.inject({ method: "POST", url: "/ledger/check", headers: bearer(t), payload: { link_id: linkId, scope: "balance:read" } });

    it("refuses, within 1 s, a token revoked in the first", async () => {
      const t = await linkedTokens(bankA);
      const service = await serviceToken(bankA, "ledger:check");
      // Warm the second process's caches, so it has something stale to forget.
      expect((await introspectAt(bankA, t.access)).json().active).toBe(true);
      expect((await checkAt(service, t.linkId)).statusCode).toBe(200);
      expect((await revoke(bankA, t.refresh)).status).toBe(200);
      expect((await revoke(bankA, service)).status).toBe(200);
      await sleep(1000);
      expect((await introspectAt(bankA, t.access)).json().active).toBe(false);
      expect((await introspectAt(bankA, t.refresh)).json().active).toBe(false);
      expect((await checkAt(service, t.linkId)).statusCode).toBe(401);
    });

    it("refuses, within 1 s, a client deleted in the first", async () => {
      const doomed = await registerClient(url, meta);
      const service = await serviceToken(doomed, "ledger:check");
      const t = await linkedTokens(doomed);
      expect((await checkAt(service, t.linkId)).statusCode).toBe(200);
      expect((await introspectAt(doomed, t.access)).json().active).toBe(true);
      expect((await fetch(doomed.registration_client_uri, { method: "DELETE", headers: bearer(doomed.registration_access_token) })).status).toBe(204);
      await sleep(1000);
      expect((await checkAt(service, t.linkId)).statusCode).toBe(401);
      expect((await introspectAt(doomed, t.access)).statusCode).toBe(401);
      const mint = await second.inject({ method: "POST", url: "/oauth/token", headers: { ...auth(doomed), "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials&scope=ledger%3Acheck" });
      expect(mint.statusCode).toBe(401);
    });

    it("refuses, within 1 s, a consent withdrawn in the first", async () => {
      const t = await linkedTokens(bankA);
      const check = await serviceToken(bankA, "ledger:check");
      expect((await checkAt(check, t.linkId)).json()).toMatchObject({ allowed: true });
      expect((await introspectAt(bankA, t.access)).json().active).toBe(true);
      await broker.app.modules.ledger.ledger.withdraw({ consentId: t.consentId, actor: "compliance" });
      await sleep(1000);
      expect((await checkAt(check, t.linkId)).json()).toMatchObject({ allowed: false, reason: "withdrawn" });
      expect((await introspectAt(bankA, t.access)).json().active).toBe(false);
      const refreshed = await second.inject({ method: "POST", url: "/oauth/token", headers: { ...auth(bankA), "content-type": "application/x-www-form-urlencoded" }, payload: new URLSearchParams({ grant_type: "refresh_token", refresh_token: t.refresh }).toString() });
      expect(refreshed.json().error).toBe("invalid_grant");
    });
  });
});
