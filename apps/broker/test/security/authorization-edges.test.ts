// The edges of the authorization and tenant checks that mutation testing (`pnpm mutation
// authz-tenant`) found unguarded: each test fails when one check is removed or weakened. Real
// tokens, signed by the broker's own keys; real HTTP; real ledger and console sessions.
import { createHash, randomUUID } from "node:crypto";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Registered, RunningBroker } from "../support/oauth.ts";
import { bankCalls, startTwoBanks } from "../support/two-banks.ts";
import { createStaff, signIn } from "../support/staff.ts";


let broker: RunningBroker;
let url: string;
let bankA: Registered;
let bankB: Registered;

beforeAll(async () => {
  ({ broker, url, bankA, bankB } = await startTwoBanks());
});
afterAll(() => broker?.close());

const { auth, introspect, revoke, serviceToken, bearer, approve, linkedTokens } = bankCalls(() => broker);
const check = (headers: Record<string, string>, body: Record<string, string>) => fetch(`${url}/ledger/check`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });

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
