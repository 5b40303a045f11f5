// Attack catalogue: one bank against another (every endpoint that takes a tenant), webhook
// forgery, advertising at every door, size limits, and secrecy of the logs, over real HTTP with
// the broker's own OAuth server and ledger.
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountLinkingDelivery, bankApi, type BankApi } from "../support/bank-api.ts";
import { driveLinkFlow } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type RegisteredBank } from "../support/linking-env.ts";
import { basic, postForm } from "../support/oauth.ts";

let env: LinkingEnv;
let bankA: RegisteredBank;
let bankB: RegisteredBank;
let a: BankApi;
let b: BankApi;
let linkA: { id: string; consentId: string; psid: string; access: string; refresh: string; code: string };

beforeAll(async () => {
  env = await startLinkingEnv({ deps: "real" });
  const audit = { scope: "balance:read transactions:read alerts:fraud support:chat ledger:check ledger:audit" };
  bankA = await env.registerBank({ name: "Bank A", metadata: audit });
  bankB = await env.registerBank({ name: "Bank B", metadata: audit });
  a = bankApi(env, bankA);
  b = bankApi(env, bankB);
  const { verifier, challenge } = a.pkce();
  const requestUri = await a.par({ scope: "balance:read", code_challenge: challenge });
  const flow = await driveLinkFlow(env, { clientId: bankA.client_id, psid: "psid-a", params: { request_uri: requestUri } });
  const tokens = await a.exchange(flow.authorizationCode!, verifier);
  const link = await env.db.prisma.link.findFirstOrThrow({ where: { clientId: bankA.client_id, psid: "psid-a" } });
  linkA = { id: link.id, consentId: link.consentId!, psid: "psid-a", access: tokens.json.access_token as string, refresh: tokens.json.refresh_token as string, code: flow.authorizationCode! };
});
afterAll(() => env?.close());

const authB = () => ({ authorization: basic(bankB.client_id, bankB.client_secret) });
const auditToken = async (bank: RegisteredBank) =>
  (await postForm(`${env.brokerUrl}/oauth/token`, { grant_type: "client_credentials", scope: "ledger:audit" }, { authorization: basic(bank.client_id, bank.client_secret) })).json.access_token as string;

describe("cross-tenant access: bank B against bank A's link", () => {
  it("attack: introspect A's tokens → inactive for B", async () => {
    expect(await b.introspect(linkA.access)).toEqual({ active: false });
    expect(await b.introspect(linkA.refresh)).toEqual({ active: false });
    expect((await a.introspect(linkA.access)).active).toBe(true);
  });

  it("attack: revoke A's tokens → 200 (RFC 7009) but they stay active", async () => {
    for (const token of [linkA.access, linkA.refresh]) expect((await postForm(`${env.brokerUrl}/oauth/revoke`, { token }, authB())).status).toBe(200);
    expect((await a.introspect(linkA.access)).active).toBe(true);
    expect((await a.introspect(linkA.refresh)).active).toBe(true);
  });

  it("attack: exchange A's code → invalid_grant", async () => {
    expect((await b.exchange(linkA.code, "x".repeat(43))).json.error).toBe("invalid_grant");
  });

  it("attack: list and unlink A's links → nothing listed, 404, the link stays", async () => {
    expect(await b.links(linkA.psid)).toEqual([]);
    expect((await b.unlink(linkA.id)).status).toBe(404);
    expect((await env.db.prisma.link.findUniqueOrThrow({ where: { id: linkA.id } })).status).toBe("active");
  });

  it("attack: ledger check and reads of A's consent → no_consent, 404", async () => {
    expect(await b.check({ link_id: linkA.id, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "no_consent" });
    expect(await b.check({ client_id: bankA.client_id, psid: linkA.psid, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "no_consent" });
    const token = { authorization: `Bearer ${await auditToken(bankB)}` };
    for (const path of [`/ledger/consents/${linkA.consentId}`, `/ledger/consents/${linkA.consentId}/receipt`]) {
      expect((await fetch(`${env.brokerUrl}${path}`, { headers: token })).status, path).toBe(404);
    }
    const list = (await (await fetch(`${env.brokerUrl}/ledger/consents?client_id=${bankA.client_id}`, { headers: token })).json()) as { items?: unknown[] };
    expect(list.items ?? []).toEqual([]);
    expect((await fetch(`${env.brokerUrl}/ledger/export`, { headers: token })).status).toBe(403);
  });
});

describe("webhooks", () => {
  const sign = (secret: string, body: string) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
  it("attack: a forged `unlinked` (signed with another bank's app secret, or none) → 401, the link stays", async () => {
    const body = accountLinkingDelivery(env.graph.pageId, linkA.psid, "unlinked", env.clock.now().getTime());
    for (const signature of [sign(bankB.appSecret, body), sign("guess", body), ""]) expect((await a.webhook(body, signature)).status).toBe(401);
    expect((await env.db.prisma.link.findUniqueOrThrow({ where: { id: linkA.id } })).status).toBe("active");
  });

  it("attack: a signed body changed after signing → 401", async () => {
    const body = accountLinkingDelivery(env.graph.pageId, "psid-other", "unlinked", env.clock.now().getTime());
    const changed = body.replace("psid-other", linkA.psid);
    expect((await a.webhook(changed, sign(bankA.appSecret, body))).status).toBe(401);
    expect((await env.db.prisma.link.findUniqueOrThrow({ where: { id: linkA.id } })).status).toBe("active");
  });
});

describe("advertising is refused at every door", () => {
  it("attack: advertising, marketing or profiling at PAR (purpose and scope), the ledger check and registration → refused", async () => {
    const { challenge } = a.pkce();
    for (const purpose of ["advertising", "marketing", "profiling"]) {
      const par = await postForm(`${env.brokerUrl}/par`, { scope: "balance:read", code_challenge: challenge, code_challenge_method: "S256", purpose }, { authorization: basic(bankA.client_id, bankA.client_secret) });
      expect(par.status).toBe(400);
      expect(await a.check({ link_id: linkA.id, scope: "balance:read", purpose })).toMatchObject({ allowed: false, reason: "purpose_forbidden" });
    }
    const scope = await postForm(`${env.brokerUrl}/par`, { scope: "balance:read advertising", code_challenge: challenge, code_challenge_method: "S256" }, { authorization: basic(bankA.client_id, bankA.client_secret) });
    expect(scope.status).toBe(400);
    await expect(env.registerBank({ metadata: { client_name: "Marketing desk" } })).rejects.toThrow(/400/);
  });
});

describe("size limits", () => {
  it("attack: oversized bodies and parameters → 413 or 400, never 5xx", async () => {
    const huge = "a".repeat(70 * 1024);
    const token = await postForm(`${env.brokerUrl}/oauth/token`, { grant_type: "client_credentials", scope: huge }, { authorization: basic(bankA.client_id, bankA.client_secret) });
    expect(token.status).toBe(413);
    const register = await fetch(`${env.brokerUrl}/connect/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ client_name: huge }) });
    expect([401, 413]).toContain(register.status);
    const par = await postForm(`${env.brokerUrl}/par`, { scope: "balance:read", code_challenge: "c".repeat(5000), code_challenge_method: "S256" }, { authorization: basic(bankA.client_id, bankA.client_secret) });
    expect(par.status).toBe(400);
  });
});
