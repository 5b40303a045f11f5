import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { accountLinkingDelivery, bankApi, type BankApi } from "./support/bank-api.ts";
import { driveLinkFlow } from "./support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type RegisteredBank } from "./support/linking-env.ts";

/**
 * Unlinking from the other sides (DESIGN.md: "Unlinking starts from any side and ends the same
 * way"), over real HTTP with the broker's own OAuth server and ledger: Messenger's `unlinked`
 * webhook, and a withdrawal recorded in the ledger by someone else (compliance, another service).
 */
describe("unlinking from Messenger and from the ledger (real OAuth server and ledger)", () => {
  let env: LinkingEnv;
  let bank: RegisteredBank;
  let api: BankApi;

  beforeAll(async () => {
    env = await startLinkingEnv({ deps: "real" });
    bank = await env.registerBank();
    api = bankApi(env, bank);
  });
  afterAll(() => env?.close());

  async function linked(psid: string, options: { username?: string; days?: string } = {}) {
    env.clock.advance(60_000);
    const { verifier, challenge } = api.pkce();
    const requestUri = await api.par({ scope: "balance:read", code_challenge: challenge, ...(options.days ? { consent_duration_days: options.days } : {}) });
    const flow = await driveLinkFlow(env, { clientId: bank.client_id, psid, username: options.username, params: { request_uri: requestUri } });
    expect(flow.authorizationCode).toBeTruthy();
    const tokens = await api.exchange(flow.authorizationCode!, verifier);
    expect(tokens.status).toBe(200);
    const link = await env.db.prisma.link.findFirstOrThrow({ where: { clientId: bank.client_id, psid } });
    return { link, access: tokens.json.access_token as string, refresh: tokens.json.refresh_token as string };
  }

  const entriesOf = async (consentId: string) => (await env.broker.modules.ledger.ledger.get(consentId)).entries.map((e) => [e.action, e.actor]);
  const linkRow = (id: string) => env.db.prisma.link.findUniqueOrThrow({ where: { id } });

  async function expectTokensEnded(access: string, refresh: string) {
    expect(await api.introspect(access)).toEqual({ active: false });
    const refused = await api.refresh(refresh);
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe("invalid_grant");
  }

  it("a webhook with a bad signature is refused with 401 and changes nothing", async () => {
    const { link, access } = await linked("psid-badsig");
    const body = accountLinkingDelivery(env.graph.pageId, "psid-badsig", "unlinked", Date.now());
    for (const signature of ["sha256=00", `sha256=${"0".repeat(64)}`, "", "md5=abc"]) {
      expect((await api.webhook(body, signature)).status).toBe(401);
    }
    // Signed with the right secret over other bytes (re-serialized JSON) does not match either.
    const resigned = await api.webhook(body, `sha256=${createHmac("sha256", bank.appSecret).update(JSON.stringify(JSON.parse(body))).digest("hex")}`);
    expect(resigned.status).toBe(401);
    // Another bank's app secret does not sign for this one.
    expect((await api.webhook(body, `sha256=${createHmac("sha256", "not-the-app-secret").update(body).digest("hex")}`)).status).toBe(401);
    expect((await linkRow(link.id)).status).toBe("active");
    expect(await entriesOf(link.consentId!)).toEqual([["granted", "customer"]]);
    expect((await api.introspect(access)).active).toBe(true);
    expect((await api.check({ link_id: link.id, scope: "balance:read" })).allowed).toBe(true);
  });

  it("an `unlinked` webhook unlinks: ledger withdrawn by messenger, tokens revoked, no Graph call; a duplicate is harmless", async () => {
    const { link, access, refresh } = await linked("psid-webhook");
    const graphCalls = env.graph.unlinkCalls().length;
    const body = accountLinkingDelivery(env.graph.pageId, "psid-webhook", "unlinked", Date.now());

    const first = await api.webhook(body);
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ received: 1, unlinked: 1, duplicates: 0, stale: 0 });
    expect(await linkRow(link.id)).toMatchObject({ status: "unlinked", unlinkedBy: "messenger" });
    expect(await entriesOf(link.consentId!)).toEqual([["granted", "customer"], ["withdrawn", "messenger"]]);
    expect(await api.check({ link_id: link.id, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "withdrawn" });
    await expectTokensEnded(access, refresh);
    expect((await env.db.prisma.grant.findMany({ where: { linkId: link.id } })).map((g) => g.revokedAt !== null)).toEqual([true]);
    expect(env.graph.unlinkCalls()).toHaveLength(graphCalls);

    const again = await api.webhook(body);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: 1, unlinked: 0, duplicates: 1, stale: 0 });
    expect(await entriesOf(link.consentId!)).toHaveLength(2);
    expect(env.graph.unlinkCalls()).toHaveLength(graphCalls);
  });

  it("a withdrawal recorded in the ledger by compliance ends the tokens at once and the link on the next tick", async () => {
    const { link, access, refresh } = await linked("psid-compliance");
    const graphCalls = env.graph.unlinkCalls().length;
    const result = await env.broker.modules.ledger.ledger.withdraw({ consentId: link.consentId!, actor: "compliance", reason: "data protection request" });
    expect(result.changed).toBe(true);

    // At once: refresh and introspection re-check the ledger.
    expect(await api.introspect(access)).toEqual({ active: false });
    expect((await api.refresh(refresh)).json.error).toBe("invalid_grant");
    expect(await api.check({ link_id: link.id, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "withdrawn" });

    // The reconciler's next run ends the link the way an unlink does.
    await env.broker.modules.scheduler.run("links.reconcile-ended-consents");
    expect(await linkRow(link.id)).toMatchObject({ status: "unlinked", unlinkedBy: "compliance" });
    const calls = env.graph.unlinkCalls().slice(graphCalls);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toEqual({ psid: "psid-compliance" });
    const grants = await env.db.prisma.grant.findMany({ where: { linkId: link.id } });
    expect(grants.length).toBeGreaterThan(0);
    expect(grants.every((g) => g.revokedAt !== null)).toBe(true);
    // No second `withdrawn` entry, and the bank sees the link unlinked.
    expect(await entriesOf(link.consentId!)).toEqual([["granted", "customer"], ["withdrawn", "compliance"]]);
    expect((await api.links("psid-compliance")).map((l) => [l.status, l.unlinked_by])).toEqual([["unlinked", "compliance"]]);

    // Idempotent: later ticks, a bank DELETE and a Messenger webhook change nothing more.
    await env.broker.modules.scheduler.run("links.reconcile-ended-consents");
    expect((await api.unlink(link.id)).status).toBe(200);
    expect(await (await api.webhook(accountLinkingDelivery(env.graph.pageId, "psid-compliance", "unlinked", Date.now()))).json()).toMatchObject({ unlinked: 0 });
    expect(env.graph.unlinkCalls().slice(graphCalls)).toHaveLength(1);
    expect(await entriesOf(link.consentId!)).toHaveLength(2);
    expect(await linkRow(link.id)).toMatchObject({ unlinkedBy: "compliance" });
  });

  it("a link re-made after a withdrawal is not unlinked by the reconciler", async () => {
    const { link } = await linked("psid-remade", { username: "bob" });
    await env.broker.modules.ledger.ledger.withdraw({ consentId: link.consentId!, actor: "compliance" });
    await env.broker.modules.scheduler.run("links.reconcile-ended-consents");
    expect((await linkRow(link.id)).status).toBe("unlinked");
    const again = await linked("psid-remade", { username: "bob" });
    expect(again.link.id).toBe(link.id);
    expect(again.link.consentId).not.toBe(link.consentId);
    await env.broker.modules.scheduler.run("links.reconcile-ended-consents");
    expect((await linkRow(link.id)).status).toBe("active");
    expect((await api.introspect(again.access)).active).toBe(true);
    expect(await api.check({ link_id: link.id, scope: "balance:read" })).toMatchObject({ allowed: true, consent_id: again.link.consentId });
  });

  it("/links and the webhook fed garbage answer 4xx, never 5xx, and change nothing", async () => {
    const { link } = await linked("psid-garbage");
    const auth = { authorization: `Basic ${Buffer.from(`${bank.client_id}:${bank.client_secret}`).toString("base64")}` };
    const long = "x".repeat(5000);
    const requests: [string, string, RequestInit][] = [
      ["no auth", "/links?psid=psid-garbage", {}],
      ["wrong secret", "/links?psid=psid-garbage", { headers: { authorization: `Basic ${Buffer.from(`${bank.client_id}:nope`).toString("base64")}` } }],
      ["junk auth", "/links?psid=psid-garbage", { headers: { authorization: "Basic %%%" } }],
      ["no psid", "/links", { headers: auth }],
      ["long psid", `/links?psid=${long}`, { headers: auth }],
      ["odd psid", "/links?psid=a%20b%00", { headers: auth }],
      ["delete no auth", `/links/${link.id}`, { method: "DELETE" }],
      ["delete long id", `/links/${long}`, { method: "DELETE", headers: auth }],
      ["delete odd id", "/links/%3Cscript%3E", { method: "DELETE", headers: auth }],
      ["delete unknown", "/links/00000000-0000-0000-0000-000000000000", { method: "DELETE", headers: auth }],
      ["webhook unknown client", "/messenger/webhook/nobody", { method: "POST", body: "{}" }],
      ["webhook long client", `/messenger/webhook/${long}`, { method: "POST", body: "{}" }],
      ["webhook no signature", `/messenger/webhook/${bank.client_id}`, { method: "POST", body: "{}" }],
      ["webhook huge", `/messenger/webhook/${bank.client_id}`, { method: "POST", headers: { "x-hub-signature-256": "sha256=00" }, body: "x".repeat(300 * 1024) }],
      ["webhook verify junk", `/messenger/webhook/${bank.client_id}?hub.mode=%ff&hub.challenge=${long}`, {}],
    ];
    for (const [label, path, init] of requests) {
      const res = await fetch(`${env.brokerUrl}${path}`, init);
      expect(res.status, label).toBeGreaterThanOrEqual(400);
      expect(res.status, label).toBeLessThan(500);
    }
    // Correctly signed garbage: JSON that is not an event, or not JSON at all.
    for (const body of ["{bad json", "[]", "null", '{"entry":"x"}', '{"entry":[{"messaging":[{"sender":{"id":{}},"account_linking":{"status":"unlinked"}}]}]}', `{"entry":[{"messaging":[{"sender":{"id":"${long}"},"account_linking":{"status":"unlinked"}}]}]}`]) {
      const res = await api.webhook(body);
      expect(res.status, body.slice(0, 40)).toBeLessThan(500);
      if (res.status === 200) expect(await res.json()).toMatchObject({ unlinked: 0 });
    }
    expect((await linkRow(link.id)).status).toBe("active");
    expect(await entriesOf(link.consentId!)).toEqual([["granted", "customer"]]);
  });

  // Last: it moves the clock days ahead.
  it("an expired consent ends the link on the next tick (actor system), tokens refused", async () => {
    const { link, refresh } = await linked("psid-expired", { days: "1" });
    const graphCalls = env.graph.unlinkCalls().length;
    env.clock.advance(86_400_000 + 60_000);
    expect(await api.check({ link_id: link.id, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "expired" });
    expect((await api.refresh(refresh)).json.error).toBe("invalid_grant");
    await env.broker.modules.scheduler.run("links.reconcile-ended-consents");
    expect(await linkRow(link.id)).toMatchObject({ status: "unlinked", unlinkedBy: "system" });
    expect(env.graph.unlinkCalls().slice(graphCalls).map((c) => c.body)).toEqual([{ psid: "psid-expired" }]);
    // Expiry is not a withdrawal: no `withdrawn` entry (the sweeper records `expired`).
    expect((await entriesOf(link.consentId!)).map(([action]) => action)).not.toContain("withdrawn");
  });
});
