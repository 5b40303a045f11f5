import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GRAPH_UNLINK_JOB } from "../src/messenger/unlink-job.ts";
import { driveLinkFlow, PLAIN_VERIFIER } from "./support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type RegisteredBank } from "./support/linking-env.ts";
import { basic, postForm } from "./support/oauth.ts";

type Bank = RegisteredBank & { id: string };

const sign = (secret: string, body: string | Buffer) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

function delivery(pageId: string, events: { psid: string; status: "linked" | "unlinked"; timestamp: number; code?: string }[]) {
  // Spacing and key order as Messenger sends them; re-serializing changes the bytes.
  return `{"object":"page", "entry":[{"id":"${pageId}","time":${Date.now()},"messaging":[${events
    .map(
      (e) =>
        `{"sender":{"id":"${e.psid}"},"recipient":{"id":"${pageId}"},"timestamp":${e.timestamp},"account_linking":{"status":"${e.status}"${e.code ? `,"authorization_code":"${e.code}"` : ""}}}`,
    )
    .join(",")}]}]}`;
}

/** On the broker's own OAuth server and consent ledger; only Graph and the bank are stand-ins. */
describe("Messenger webhook and /links", () => {
  let env: LinkingEnv;
  let client: Bank;
  let other: Bank;
  const hook = () => `${env.brokerUrl}/messenger/webhook/${client.id}`;
  /** Event timestamps are milliseconds on the broker's (test) clock. */
  const now = () => env.clock.now().getTime();
  const post = (body: string, signature?: string, contentType = "application/json") =>
    fetch(hook(), { method: "POST", headers: { "content-type": contentType, ...(signature ? { "x-hub-signature-256": signature } : {}) }, body });

  beforeAll(async () => {
    env = await startLinkingEnv();
    const bank = async () => {
      const b = await env.registerBank({ metadata: { require_pushed_authorization_requests: false } });
      return { ...b, id: b.client_id };
    };
    client = await bank();
    other = await bank();
  });
  afterAll(() => env?.close());

  const auth = (bank: Bank = client) => ({ authorization: basic(bank.client_id, bank.client_secret) });
  const refresh = (refreshToken: string, bank: Bank = client) => postForm(`${env.brokerUrl}/oauth/token`, { grant_type: "refresh_token", refresh_token: refreshToken }, auth(bank));
  /** The ledger's withdrawn entries of a consent (actor and all). */
  const withdrawals = async (consentId: string) => (await env.broker.modules.ledger.ledger.get(consentId)).entries.filter((e) => e.action === "withdrawn");
  const allWithdrawals = () => env.db.prisma.ledgerEntry.count({ where: { action: "withdrawn" } });

  /** A linked customer whose bank holds real tokens (the code exchanged), so an unlink has something to end. */
  async function linked(psid: string, username = "alice", bank: Bank = client) {
    env.clock.advance(60_000);
    const result = await driveLinkFlow(env, { clientId: bank.id, psid, username });
    expect(result.authorizationCode).toBeTruthy();
    const tokens = await postForm(`${env.brokerUrl}/oauth/token`, { grant_type: "authorization_code", code: result.authorizationCode!, code_verifier: PLAIN_VERIFIER }, auth(bank));
    expect(tokens.status).toBe(200);
    const link = await env.db.prisma.link.findFirstOrThrow({ where: { psid, clientId: bank.id } });
    return { ...link, refreshToken: tokens.json.refresh_token as string };
  }

  it("answers the verify handshake only with the right verify token", async () => {
    const ok = await fetch(`${hook()}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(client.verifyToken)}&hub.challenge=12345`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("12345");
    expect(ok.headers.get("content-type")).toMatch(/^text\/plain/);
    const wrong = await fetch(`${hook()}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=12345`);
    expect(wrong.status).toBe(403);
    expect(await wrong.text()).not.toContain("12345");
    const missing = await fetch(`${hook()}?hub.mode=subscribe&hub.challenge=1`);
    expect(missing.status).toBe(403);
    expect((await fetch(`${hook()}?hub.mode=unsubscribe&hub.verify_token=${client.verifyToken}&hub.challenge=1`)).status).toBe(400);
    expect((await fetch(`${env.brokerUrl}/messenger/webhook/unknown?hub.mode=subscribe&hub.verify_token=x&hub.challenge=1`)).status).toBe(404);
  });

  it("refuses a bad, missing or re-serialized signature with 401 and changes nothing", async () => {
    const link = await linked("psid-sig");
    const body = delivery(env.graph.pageId, [{ psid: "psid-sig", status: "unlinked", timestamp: now() + 1 }]);
    expect((await post(body)).status).toBe(401);
    expect((await post(body, "sha256=" + "0".repeat(64))).status).toBe(401);
    expect((await post(body, sign("wrong-secret", body))).status).toBe(401);
    expect((await post(body, sign(other.appSecret, body))).status).toBe(401);
    const reserialized = JSON.stringify(JSON.parse(body));
    expect(reserialized).not.toBe(body);
    expect((await post(body, sign(client.appSecret, reserialized))).status).toBe(401);
    expect((await post(body, sign(client.appSecret, body).replace("sha256=", "sha1="))).status).toBe(401);
    expect((await env.db.prisma.link.findUniqueOrThrow({ where: { id: link.id } })).status).toBe("active");
    expect(await allWithdrawals()).toBe(0);
    expect((await refresh(link.refreshToken)).status).toBe(200);
    expect(await env.db.prisma.replayGuard.count()).toBe(0);
  });

  it("unlinked unlinks (no Graph call), linked is acknowledged, duplicates are harmless, several events per delivery", async () => {
    const a = await linked("psid-w1");
    const b = await linked("psid-w2", "bob");
    const body = delivery(env.graph.pageId, [
      { psid: "psid-w1", status: "unlinked", timestamp: now() + 1000 },
      { psid: "psid-new", status: "linked", timestamp: now() + 1001, code: "abc" },
      { psid: "psid-w2", status: "unlinked", timestamp: now() + 1002 },
    ]);
    const graphCalls = env.graph.unlinkCalls().length;
    const res = await post(body, sign(client.appSecret, body));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ received: 3, unlinked: 2, duplicates: 0, stale: 0 });
    for (const link of [a, b]) {
      const row = await env.db.prisma.link.findUniqueOrThrow({ where: { id: link.id } });
      expect(row).toMatchObject({ status: "unlinked", unlinkedBy: "messenger" });
      expect((await refresh(link.refreshToken)).json.error).toBe("invalid_grant");
      expect(await withdrawals(row.consentId!)).toEqual([expect.objectContaining({ actor: "messenger" })]);
      expect((await env.broker.modules.ledger.ledger.get(row.consentId!)).consent.status).toBe("withdrawn");
    }
    expect(env.graph.unlinkCalls().length).toBe(graphCalls);
    expect(await env.db.prisma.job.count()).toBe(0);

    const before = await allWithdrawals();
    const again = await post(body, sign(client.appSecret, body));
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual({ received: 3, unlinked: 0, duplicates: 2, stale: 0 });
    expect(await allWithdrawals()).toBe(before);
  });

  it("answers 200 to an empty or foreign delivery, 400 to signed garbage, any content type", async () => {
    const empty = `{"object":"page","entry":[]}`;
    expect((await post(empty, sign(client.appSecret, empty))).status).toBe(200);
    const garbage = "{not json";
    expect((await post(garbage, sign(client.appSecret, garbage))).status).toBe(400);
    const text = delivery(env.graph.pageId, []);
    expect((await post(text, sign(client.appSecret, text), "text/plain")).status).toBe(200);
  });

  it("GET /links lists only the calling client's links; DELETE unlinks and tells Messenger once", async () => {
    const link = await linked("psid-l1");
    const others = await linked("psid-l1", "alice", other);
    const list = await fetch(`${env.brokerUrl}/links?psid=psid-l1`, { headers: auth(client) });
    expect(list.status).toBe(200);
    const { links } = (await list.json()) as { links: unknown[] };
    expect(links).toHaveLength(1);
    expect(links[0]).toMatchObject({ link_id: link.id, psid: "psid-l1", subject: "cust-alice-001", status: "active", consent_id: link.consentId });
    expect((await fetch(`${env.brokerUrl}/links?psid=psid-l1`)).status).toBe(401);
    expect((await fetch(`${env.brokerUrl}/links?psid=psid-l1`, { headers: { authorization: basic(client.client_id, "wrong-secret") } })).status).toBe(401);

    const del = (id: string, bank: Bank) => fetch(`${env.brokerUrl}/links/${id}`, { method: "DELETE", headers: auth(bank) });
    expect((await del(link.id, other)).status).toBe(404);
    expect((await del(others.id, client)).status).toBe(404);
    expect((await del("no-such-link", client)).status).toBe(404);
    // Neither refusal touched the links.
    expect((await refresh(link.refreshToken)).status).toBe(200);
    expect((await env.db.prisma.link.findUniqueOrThrow({ where: { id: others.id } })).status).toBe("active");

    const current = (await env.db.prisma.link.findUniqueOrThrow({ where: { id: link.id } })).consentId!;
    const calls = env.graph.unlinkCalls().length;
    const res = await del(link.id, client);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ link_id: link.id, status: "unlinked", unlinked_by: "bank" });
    expect(env.graph.unlinkCalls().slice(calls)).toEqual([expect.objectContaining({ method: "POST", body: { psid: "psid-l1" }, query: { access_token: env.graph.pageAccessToken } })]);
    expect(await withdrawals(current)).toEqual([expect.objectContaining({ actor: "bank" })]);
    // The bank's tokens of that link end with it; the other bank's link is untouched.
    const rotated = await env.db.prisma.grant.count({ where: { linkId: link.id, revokedAt: null } });
    expect(rotated).toBe(0);
    expect((await env.db.prisma.link.findUniqueOrThrow({ where: { id: others.id } })).status).toBe("active");

    // Idempotent: a second DELETE changes nothing and calls nobody.
    expect((await del(link.id, client)).status).toBe(200);
    expect(await withdrawals(current)).toHaveLength(1);
    expect(env.graph.unlinkCalls().length).toBe(calls + 1);
    expect(await env.db.prisma.job.count({ where: { doneAt: null } })).toBe(0);
  });

  it("concurrent unlinks from the bank and from Messenger end once: one withdrawal recorded as done, at most one Graph call", async () => {
    const link = await linked("psid-both");
    const calls = env.graph.unlinkCalls().length;
    const body = delivery(env.graph.pageId, [{ psid: "psid-both", status: "unlinked", timestamp: now() + 777 }]);
    const [del, hookRes] = await Promise.all([
      fetch(`${env.brokerUrl}/links/${link.id}`, { method: "DELETE", headers: auth(client) }),
      post(body, sign(client.appSecret, body)),
    ]);
    expect(del.status).toBe(200);
    expect(hookRes.status).toBe(200);
    const row = await env.db.prisma.link.findUniqueOrThrow({ where: { id: link.id } });
    expect(row.status).toBe("unlinked");
    expect(env.graph.unlinkCalls().length - calls).toBe(row.unlinkedBy === "bank" ? 1 : 0);
    expect(await withdrawals(link.consentId!)).toHaveLength(1);
    expect((await refresh(link.refreshToken)).json.error).toBe("invalid_grant");
  });

  it("retries a failed Graph unlink with backoff until it goes through", async () => {
    const link = await linked("psid-retry", "bob");
    env.graph.fail(1);
    const res = await fetch(`${env.brokerUrl}/links/${link.id}`, { method: "DELETE", headers: auth(client) });
    expect(res.status).toBe(200);
    const job = await env.db.prisma.job.findFirstOrThrow({ where: { kind: GRAPH_UNLINK_JOB, doneAt: null } });
    expect(job.attempts).toBe(1);
    expect(job.lastError).toMatch(/Graph API answered 500/);
    expect(job.lastError).not.toContain(env.graph.pageAccessToken);
    const runner = env.broker.modules.links.jobRunner;
    await runner.runDue();
    expect((await env.db.prisma.job.findUniqueOrThrow({ where: { id: job.id } })).doneAt).toBeNull(); // not due yet
    env.clock.advance(6_000);
    await runner.runDue();
    const done = await env.db.prisma.job.findUniqueOrThrow({ where: { id: job.id } });
    expect(done.doneAt).not.toBeNull();
    expect(done.attempts).toBe(2);
    expect(env.graph.unlinkCalls().filter((c) => (c.body as { psid?: string })?.psid === "psid-retry")).toHaveLength(2);
  });
});
