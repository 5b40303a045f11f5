// The edges of the authorization and tenant checks that mutation testing (`pnpm mutation
// authz-tenant`) found unguarded: each test fails when one check is removed or weakened. Real
// tokens, signed by the broker's own keys; real HTTP; real ledger and console sessions.
import { createHash, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { basic, postForm, registerClient, startRunningBroker, type Registered, type RunningBroker } from "../support/oauth.ts";
import { createStaff, signIn } from "../support/staff.ts";

const challengeOf = (v: string) => createHash("sha256").update(v).digest("base64url");

let broker: RunningBroker;
let url: string;
let bankA: Registered;
let bankB: Registered;
const meta = { scope: "balance:read alerts:fraud ledger:check ledger:audit" };

beforeAll(async () => {
  broker = await startRunningBroker();
  url = broker.url;
  bankA = await registerClient(url, meta);
  bankB = await registerClient(url, meta);
});
afterAll(() => broker?.close());

const auth = (c: Registered) => ({ authorization: basic(c.client_id, c.client_secret!) });
const token = (c: Registered, body: Record<string, string>) => postForm(`${url}/oauth/token`, body, auth(c));
const introspect = (c: Registered, t: string) => postForm(`${url}/oauth/introspect`, { token: t }, auth(c));
const revoke = (c: Registered, t: string) => postForm(`${url}/oauth/revoke`, { token: t }, auth(c));
const serviceToken = async (c: Registered, scope: string) => {
  const res = await token(c, { grant_type: "client_credentials", scope });
  expect(res.status).toBe(200);
  return res.json.access_token as string;
};
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const check = (headers: Record<string, string>, body: Record<string, string>) => fetch(`${url}/ledger/check`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });

/** What the linking flow's approval does: the link, a ledger grant and a code in one transaction. */
async function approve(c: Registered) {
  const subject = `cust-${randomUUID().slice(0, 8)}`;
  const verifier = oidc.randomPKCECodeVerifier();
  const linkId = randomUUID();
  const scopes = ["balance:read"];
  const { code, consentId } = await broker.db.prisma.$transaction(async (tx) => {
    const { consentId } = await broker.app.modules.ledger.ledger.grant({ clientId: c.client_id, subject, linkId, psid: `psid-${subject}`, scopes, actor: "customer" }, { tx });
    await tx.link.create({ data: { id: linkId, clientId: c.client_id, subject, psid: `psid-${subject}`, consentId } });
    const code = await broker.app.modules.oauth.issueAuthorizationCode(tx, { clientId: c.client_id, linkId, attemptId: randomUUID(), consentId, subject, scopes, codeChallenge: challengeOf(verifier) });
    return { code, consentId };
  });
  return { code, verifier, linkId, consentId, subject };
}
async function linkedTokens(c: Registered) {
  const a = await approve(c);
  const res = await token(c, { grant_type: "authorization_code", code: a.code, code_verifier: a.verifier });
  expect(res.status).toBe(200);
  return { ...a, access: res.json.access_token as string, refresh: res.json.refresh_token as string };
}

describe("ledger callers: staff session or bank token", () => {
  it("a staff session sees every bank's consents; with a bank's token beside it, the token decides", async () => {
    const mine = await approve(bankA);
    const theirs = await approve(bankB);
    await createStaff(broker.db, "auditor@bank.example", "auditor");
    const { cookie } = await signIn(broker.app, "auditor@bank.example");
    const ids = async (headers: Record<string, string>) => {
      const res = await fetch(`${url}/ledger/consents?limit=500`, { headers });
      return { status: res.status, ids: res.status === 200 ? ((await res.json()) as { items: { id: string }[] }).items.map((i) => i.id) : [] };
    };
    const staff = await ids({ cookie });
    expect(staff.status).toBe(200);
    expect(staff.ids).toEqual(expect.arrayContaining([mine.consentId, theirs.consentId]));
    expect((await fetch(`${url}/ledger/consents/${theirs.consentId}`, { headers: { cookie } })).status).toBe(200);

    const audit = await serviceToken(bankA, "ledger:audit");
    const both = await ids({ cookie, ...bearer(audit) });
    expect(both.status).toBe(200);
    expect(both.ids).toContain(mine.consentId);
    expect(both.ids).not.toContain(theirs.consentId);
    expect((await fetch(`${url}/ledger/consents/${theirs.consentId}`, { headers: { cookie, ...bearer(audit) } })).status).toBe(404);
    // A bad token beside a good session is refused, not read as compliance.
    expect((await ids({ cookie, authorization: "Bearer not-a-token" })).status).toBe(401);
    // No session and no token: refused.
    expect((await ids({})).status).toBe(401);
  });

  it("a token without the route's scope is refused with insufficient_scope", async () => {
    const checkOnly = await serviceToken(bankA, "ledger:check");
    const res = await fetch(`${url}/ledger/consents`, { headers: bearer(checkOnly) });
    expect(res.status).toBe(403);
    expect(res.headers.get("www-authenticate") ?? JSON.stringify(await res.json())).toMatch(/insufficient_scope/);
    const auditOnly = await serviceToken(bankA, "ledger:audit");
    expect((await check(bearer(auditOnly), { client_id: bankA.client_id, psid: "p", scope: "balance:read" })).status).toBe(403);
    expect((await check(bearer(checkOnly), { client_id: bankA.client_id, psid: "p", scope: "balance:read" })).status).toBe(200);
  });
});

describe("introspection and revocation", () => {
  it("a withdrawn consent ends its grant at introspection: both tokens inactive, the grant revoked as consent_inactive", async () => {
    const t = await linkedTokens(bankA);
    await broker.app.modules.ledger.ledger.withdraw({ consentId: t.consentId, actor: "compliance", reason: "test" });
    expect((await introspect(bankA, t.access)).json).toEqual({ active: false });
    const grant = await broker.db.prisma.grant.findFirstOrThrow({ where: { linkId: t.linkId } });
    expect(grant.revokedAt).not.toBeNull();
    expect(grant.revokedReason).toBe("consent_inactive");

    const u = await linkedTokens(bankA);
    await broker.app.modules.ledger.ledger.withdraw({ consentId: u.consentId, actor: "compliance", reason: "test" });
    expect((await introspect(bankA, u.refresh)).json).toEqual({ active: false });
    expect((await broker.db.prisma.grant.findFirstOrThrow({ where: { linkId: u.linkId } })).revokedReason).toBe("consent_inactive");
  });

  it("a token the broker never issued is inactive, not an error", async () => {
    for (const t of ["not-a-token-at-all", "a.b.c", randomUUID()]) expect((await introspect(bankA, t)).json).toEqual({ active: false });
  });

  it("an expired refresh token is inactive, and a refresh token's revocation ends its access tokens", async () => {
    const t = await linkedTokens(bankA);
    expect((await introspect(bankA, t.refresh)).json).toMatchObject({ active: true });
    const grant = await broker.db.prisma.grant.findFirstOrThrow({ where: { linkId: t.linkId } });
    await broker.db.prisma.refreshToken.updateMany({ where: { grantId: grant.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect((await introspect(bankA, t.refresh)).json).toEqual({ active: false });

    const u = await linkedTokens(bankA);
    expect((await introspect(bankA, u.access)).json).toMatchObject({ active: true });
    expect((await revoke(bankA, u.refresh)).status).toBe(200);
    expect((await introspect(bankA, u.access)).json).toEqual({ active: false });
  });

  it("a revoked access token stays revoked after the sweep of expired rows, until it has expired", async () => {
    const t = await linkedTokens(bankA);
    expect((await revoke(bankA, t.access)).status).toBe(200);
    await broker.app.modules.scheduler.run("oauth.sweep-expired");
    expect((await introspect(bankA, t.access)).json).toEqual({ active: false });
    const row = await broker.db.prisma.accessToken.findFirstOrThrow({ where: { clientId: bankA.client_id, revokedAt: { not: null } }, orderBy: { revokedAt: "desc" } });
    expect(row.expiresAt.getTime()).toBeGreaterThan(Date.now());
  });

  it("a revoked service token is refused at once, in the same process, without waiting for the feed", async () => {
    const t = await serviceToken(bankA, "ledger:check");
    expect((await check(bearer(t), { client_id: bankA.client_id, psid: "p", scope: "balance:read" })).status).toBe(200);
    // Another client's revocation does nothing.
    expect((await revoke(bankB, t)).status).toBe(200);
    expect((await check(bearer(t), { client_id: bankA.client_id, psid: "p", scope: "balance:read" })).status).toBe(200);
    expect((await revoke(bankA, t)).status).toBe(200);
    expect((await check(bearer(t), { client_id: bankA.client_id, psid: "p", scope: "balance:read" })).status).toBe(401);
    expect((await introspect(bankA, t)).json).toEqual({ active: false });
  });
});

describe("bearer and DPoP at the broker's APIs", () => {
  async function dpopKey() {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = (await exportJWK(publicKey)) as JWK;
    return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
  }
  const proof = (key: Awaited<ReturnType<typeof dpopKey>>, accessToken: string, htu = `${url}/ledger/check`) =>
    new SignJWT({ htm: "POST", htu, jti: randomUUID(), ath: createHash("sha256").update(accessToken).digest("base64url") })
      .setProtectedHeader({ alg: "ES256", typ: "dpop+jwt", jwk: key.jwk })
      .setIssuedAt()
      .sign(key.privateKey);
  const body = () => ({ client_id: bankA.client_id, psid: "p", scope: "balance:read" });

  it("a DPoP-bound token needs the DPoP scheme and a proof by its own key", async () => {
    const key = await dpopKey();
    const other = await dpopKey();
    const { token: t } = await broker.app.modules.oauth.accessTokens.issue({ clientId: bankA.client_id, subject: bankA.client_id, scopes: ["ledger:check"], jkt: key.jkt });
    // Even with its proof, a bound token is refused under the Bearer scheme.
    expect((await check({ ...bearer(t), dpop: await proof(key, t) }, body())).status).toBe(401);
    const asBearer = await check(bearer(t), body());
    expect(asBearer.status).toBe(401);
    expect(asBearer.headers.get("www-authenticate")).toMatch(/^DPoP error="invalid_token"/);
    expect((await check({ authorization: `DPoP ${t}` }, body())).status).toBe(401);
    expect((await check({ authorization: `DPoP ${t}`, dpop: await proof(other, t) }, body())).status).toBe(401);
    expect((await check({ authorization: `DPoP ${t}`, dpop: await proof(key, t, `${url}/ledger/consents`) }, body())).status).toBe(401);
    expect((await check({ authorization: `DPoP ${t}`, dpop: await proof(key, t) }, body())).status).toBe(200);
  });

  it("a token that is not DPoP-bound needs the Bearer scheme (any case), and nothing else in the header (HTTP itself trims its ends)", async () => {
    const t = await serviceToken(bankA, "ledger:check");
    expect((await check({ authorization: `DPoP ${t}` }, body())).status).toBe(401);
    expect((await check({ authorization: `bearer ${t}` }, body())).status).toBe(200);
    expect((await check({ authorization: `Bearer  ${t}` }, body())).status).toBe(401);
    expect((await check({ authorization: `Bearer ${t}x` }, body())).status).toBe(401);
    expect((await check({ authorization: `xBearer ${t}` }, body())).status).toBe(401);
    expect((await check({ authorization: `Bearer ${t} junk` }, body())).status).toBe(401);
    expect((await check({}, body())).status).toBe(401);
  });
});

describe("/links", () => {
  it("an unknown link is 404, another bank's link is 404 and stays, one's own link is unlinked", async () => {
    const mine = await approve(bankA);
    const unlink = (c: Registered, id: string) => fetch(`${url}/links/${id}`, { method: "DELETE", headers: auth(c) });
    expect((await unlink(bankA, "no-such-link")).status).toBe(404);
    expect((await unlink(bankB, mine.linkId)).status).toBe(404);
    expect((await broker.db.prisma.link.findUniqueOrThrow({ where: { id: mine.linkId } })).status).toBe("active");
    const jobs = () => broker.db.prisma.job.count({ where: { kind: "messenger.unlink" } });
    const before = await jobs();
    const res = await unlink(bankA, mine.linkId);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "unlinked" });
    // Messenger is told of the bank's unlink (a queued Graph call).
    expect(await jobs()).toBe(before + 1);
    expect((await fetch(`${url}/links/${mine.linkId}`, { method: "DELETE" })).status).toBe(401);
  });
});
