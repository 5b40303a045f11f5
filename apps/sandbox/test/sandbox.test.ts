// The sandbox on its own, with no broker listening: what Messenger's Graph API answers, the
// signature check on webhooks, and the clear message (never a hang) when the broker is not
// reachable. Everything that needs the broker runs against the real one in test/e2e.test.ts.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { cookieFetch, form } from "./support/cookie-fetch.ts";
import { freePort } from "../../broker/test/support/ports.ts";

let dataDir: string;
let clock = Date.now();
let sandbox: Awaited<ReturnType<typeof buildSandbox>>;
let base: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "sandbox-it-"));
  // A port nothing listens on: the broker is down for this whole file.
  const [brokerPort, sandboxPort, idpPort] = [await freePort(), await freePort(), await freePort()];
  base = `http://localhost:${sandboxPort}`;
  const config = loadConfig({
    SANDBOX_PORT: String(sandboxPort),
    SANDBOX_IDP_PORT: String(idpPort),
    BROKER_URL: `http://localhost:${brokerPort}`,
    SANDBOX_DATA_DIR: dataDir,
    BROKER_REGISTRATION_TOKEN: "registration-token-registration-token-0123",
    SANDBOX_BROKER_TIMEOUT_MS: "1500",
  });
  sandbox = await buildSandbox(config, { now: () => clock, logLevel: "silent", outboxRetryMs: 60_000 });
  await sandbox.listen();
});
afterAll(async () => {
  await sandbox?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function chatText(go: ReturnType<typeof cookieFetch>) {
  return (await (await go(`${base}/`)).text()).replace(/&#39;/g, "'");
}

describe("Graph API", () => {
  it("resolves an account_linking_token to the PSID for 5 minutes, then answers OAuthException 10301", async () => {
    const token = sandbox.tokens.mint("1234567890123456");
    const url = (t: string, pageToken = sandbox.secrets.pageAccessToken) => `${base}/graph/me?fields=recipient&account_linking_token=${t}&access_token=${pageToken}`;
    let res = await fetch(url(token));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: sandbox.secrets.pageId, recipient: "1234567890123456" });

    res = await fetch(url(token, "wrong"));
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(190);

    clock += 5 * 60_000;
    res = await fetch(url(token));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: "OAuthException", code: 10301 } });
    res = await fetch(url("unknown"));
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(10301);
  });

  it("serves a PSID's name and picture (User Profile API) with the page access token", async () => {
    const profile = (psid: string, token = sandbox.secrets.pageAccessToken) => fetch(`${base}/graph/v23.0/${psid}?fields=name,profile_pic&access_token=${token}`);
    const res = await profile("1234567890123456");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { name: string; profile_pic: string };
    expect(body.name).toBe("Sandbox user 3456");
    const picture = await fetch(body.profile_pic);
    expect(picture.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
    expect((await profile("1234567890123456", "wrong")).status).toBe(400);
    expect((await profile("not-a-psid")).status).toBe(400);
  });

  it("unlink_accounts answers like Messenger and needs the page access token", async () => {
    const call = (token: string) =>
      fetch(`${base}/graph/me/unlink_accounts?access_token=${token}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ psid: "1234567890123456" }) });
    expect((await call("wrong")).status).toBe(400);
    expect(await (await call(sandbox.secrets.pageAccessToken)).json()).toEqual({ result: "unlink account success" });
  });
});

describe("Send API", () => {
  const PSID = "2234567890123456";
  const send = (body: unknown, token = sandbox.secrets.pageAccessToken) =>
    fetch(`${base}/graph/v23.0/me/messages?access_token=${token}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  const update = (message: unknown) => ({ recipient: { id: PSID }, messaging_type: "MESSAGE_TAG", tag: "ACCOUNT_UPDATE", message });
  const transcript = async () => (await (await fetch(`${base}/messenger/messages`, { headers: { cookie: `sandbox_psid=${PSID}` } })).json()) as { count: number; html: string };

  it("refuses a wrong page token (190) and any type or tag but ACCOUNT_UPDATE (100), showing nothing", async () => {
    const before = (await transcript()).count;
    const wrongToken = await send(update({ text: "hello" }), "wrong");
    expect(wrongToken.status).toBe(400);
    expect(await wrongToken.json()).toMatchObject({ error: { type: "OAuthException", code: 190 } });
    for (const body of [
      { ...update({ text: "hello" }), tag: "CONFIRMED_EVENT_UPDATE" },
      { ...update({ text: "hello" }), tag: undefined },
      { ...update({ text: "hello" }), messaging_type: "UPDATE" },
      { ...update({ text: "hello" }), recipient: { id: "not-a-psid" } },
      update({}),
      update({ attachment: { type: "template", payload: { template_type: "button", text: "x", buttons: [{ type: "web_url", url: "javascript:alert(1)", title: "x" }] } } }),
    ]) {
      const res = await send(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { error: { code: number } }).error.code).toBe(100);
    }
    expect((await transcript()).count).toBe(before);
  });

  it("puts an ACCOUNT_UPDATE text and a button template in the customer's chat, which the page's poll reads", async () => {
    const res = await send(update({ text: "Fraud alert: <b>card</b> payment" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ recipient_id: PSID, message_id: expect.stringMatching(/^m_/) });
    const renew = update({ attachment: { type: "template", payload: { template_type: "button", text: "Renew your consent", buttons: [{ type: "account_link", url: "http://localhost:3000/link?x=1" }] } } });
    expect((await send(renew)).status).toBe(200);
    const { count, html } = await transcript();
    expect(count).toBe(2);
    expect(html).toContain("Fraud alert: &lt;b&gt;card&lt;/b&gt; payment");
    expect(html).toMatch(/Renew your consent<div><a class="button" href="\/messenger\/account_link">Log In<\/a>/);
    // Without JS the page shows the same on a reload.
    expect(await (await fetch(`${base}/`, { headers: { cookie: `sandbox_psid=${PSID}` } })).text()).toContain("Renew your consent");
  });
});

describe("the bank's consent-event endpoint and bank page", () => {
  it("refuses anything but one SET with 400 and an RFC 8935 error, even while the broker is down", async () => {
    const post = (body: string, type: string) => fetch(`${base}/bot/events`, { method: "POST", headers: { "content-type": type }, body });
    let res = await post("{}", "application/json");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ err: "invalid_request" });
    res = await post("not-a-jwt", "application/secevent+jwt");
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ err: "invalid_request" });
    expect(await (await fetch(`${base}/bot/events/received`)).json()).toEqual({ events: [] });
  });

  it("a simulated payment with the broker down sends nothing and says why", async () => {
    const go = cookieFetch();
    expect((await go(`${base}/bank/simulate`, form({ customer: "cust-9999", kind: "fraud" }))).status).toBe(400);
    expect((await go(`${base}/bank/simulate`, form({ customer: "cust-1001", kind: "lottery" }))).status).toBe(400);
    const res = await go(`${base}/bank/simulate`, form({ customer: "cust-1001", kind: "fraud" }));
    expect(res.status).toBe(303);
    const html = await (await go(`${base}/bank`)).text();
    expect(html).toContain('data-outcome="failed" data-reason="broker_unreachable"');
    expect(html).toContain("Ada Lovelace");
  });
});

describe("the bank bot's webhook", () => {
  it("refuses a webhook with a bad signature", async () => {
    const res = await fetch(`${base}/bot/webhook`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-hub-signature-256": "sha256=00" },
      body: JSON.stringify({ entry: [] }),
    });
    expect(res.status).toBe(401);
  });
});

describe("when the broker is down", () => {
  it("the chat page says so clearly and answers instead of hanging", async () => {
    const go = cookieFetch();
    const started = Date.now();
    expect(await chatText(go)).toContain("The bank is not reachable right now (broker down)");
    const login = await go(`${base}/messenger/account_link`);
    expect(login.status).toBe(303);
    expect(await chatText(go)).toContain("broker down");
    await go(`${base}/messenger/send`, form({ text: "hello" }));
    expect(await chatText(go)).toContain("Ask me");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("keeps a Log Out for the broker until it is back", async () => {
    const go = cookieFetch();
    await go(`${base}/`);
    await go(`${base}/messenger/unlink`, { method: "POST" });
    expect(await chatText(go)).toContain("sent to the bank as soon as it is back");
    const outbox = JSON.parse(readFileSync(join(dataDir, "webhook-outbox.json"), "utf8")) as unknown[];
    expect(JSON.stringify(outbox)).toContain('"status":"unlinked"');
  });
});
