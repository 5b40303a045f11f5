// The sandbox against a stand-in broker: registration (and its reuse after a restart), the
// Log In button through PAR, the Graph API, the linked/unlinked webhooks, the ledger check
// before every read, and a clear message when the broker is down.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildSandbox } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { cookieFetch, form } from "./support/cookie-fetch.ts";
import { startFakeBroker } from "./support/fake-broker.ts";
import { freePort } from "./support/ports.ts";

const REG_TOKEN = "registration-token-registration-token-0123";
let dataDir: string;
let brokerPort: number;
let sandboxPort: number;
let idpPort: number;
let clock = Date.now();
let broker: Awaited<ReturnType<typeof startFakeBroker>>;
let sandbox: Awaited<ReturnType<typeof buildSandbox>>;
let base: string;

async function startSandbox() {
  const config = loadConfig({
    SANDBOX_PORT: String(sandboxPort),
    SANDBOX_IDP_PORT: String(idpPort),
    BROKER_URL: `http://localhost:${brokerPort}`,
    SANDBOX_DATA_DIR: dataDir,
    BROKER_REGISTRATION_TOKEN: REG_TOKEN,
    SANDBOX_BROKER_TIMEOUT_MS: "1500",
  });
  const s = await buildSandbox(config, { now: () => clock, logLevel: "silent", outboxRetryMs: 300 });
  await s.listen();
  return s;
}

async function chatText(go: ReturnType<typeof cookieFetch>) {
  return (await (await go(`${base}/`)).text()).replace(/&#39;/g, "'");
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "sandbox-it-"));
  brokerPort = await freePort();
  sandboxPort = await freePort();
  idpPort = await freePort();
  base = `http://localhost:${sandboxPort}`;
  broker = await startFakeBroker({ port: brokerPort, registrationToken: REG_TOKEN, graphUrl: () => `${base}/graph` });
  sandbox = await startSandbox();
});
afterAll(async () => {
  await sandbox?.close();
  await broker?.close().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
});

describe("Graph API", () => {
  it("resolves an account_linking_token to the PSID for 5 minutes, then answers OAuthException 10301", async () => {
    const token = sandbox.tokens.mint("1234567890123456");
    const url = (t: string, pageToken = sandbox.secrets.pageAccessToken) => `${base}/graph/me?fields=recipient&account_linking_token=${t}&access_token=${pageToken}`;
    let res = await fetch(url(token));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: sandbox.secrets.pageId, recipient: "1234567890123456" });

    res = await fetch(url(token, "wrong"));
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.code).toBe(190);

    clock += 5 * 60_000;
    res = await fetch(url(token));
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { type: "OAuthException", code: 10301 } });
    res = await fetch(url("unknown"));
    expect(((await res.json()) as any).error.code).toBe(10301);
  });
});

describe("linking through the chat", () => {
  const go = cookieFetch();

  it("registers once with private_key_jwt + DPoP and links through PAR, Graph and the signed webhook", async () => {
    await sandbox.registration.get();
    expect(broker.state.registrations).toBe(1);
    await expect.poll(() => broker.state.subscribed, { timeout: 5000 }).toBe(true);
    await go(`${base}/`);
    const button = await go(`${base}/messenger/account_link`);
    expect(button.status).toBe(302);
    const link = new URL(button.headers.get("location")!);
    expect(link.pathname).toBe("/link");
    expect(link.searchParams.get("request_uri")).toMatch(/^urn:ietf:params:oauth:request_uri:/);
    expect(link.searchParams.get("redirect_uri")).toMatch(new RegExp(`^${base}/messenger_platform/account_linking\\?ctx=`));
    const back = await go(link.toString());
    expect(back.status).toBe(303);
    const landing = await go(back.headers.get("location")!);
    expect(landing.status).toBe(303);
    const page = await chatText(go);
    expect(page).toContain("Account linked.");
    expect(page).toContain("Log Out");
  });

  it("checks the ledger before every read and answers from the customer's accounts", async () => {
    const before = broker.state.checks.length;
    await go(`${base}/messenger/send`, form({ text: "What is my balance?" }));
    await go(`${base}/messenger/send`, form({ text: "Any fraud alerts?" }));
    expect(broker.state.checks.slice(before).map((c) => [c.scope, c.purpose])).toEqual([
      ["balance:read", "account_servicing"],
      ["alerts:fraud", "fraud_alerts"],
    ]);
    const page = await chatText(go);
    expect(page).toContain("€2,450.17");
    expect(page).toContain("No fraud alerts");
  });

  it("says it no longer has access once the consent is withdrawn, without stale data", async () => {
    const psid = [...broker.state.links.keys()][0]!;
    broker.state.withdrawn.add(psid);
    await go(`${base}/messenger/send`, form({ text: "what is my balance?" }));
    const page = await chatText(go);
    expect(page.lastIndexOf("I no longer have access to your account")).toBeGreaterThan(page.lastIndexOf("€2,450.17"));
    broker.state.withdrawn.delete(psid);
  });

  it("keeps the registration and the link across a restart", async () => {
    await sandbox.close();
    sandbox = await startSandbox();
    // The test's own keep-alive connection to the old server is gone; a new process starts clean.
    await go(`${base}/healthz`).catch(() => {});
    await go(`${base}/messenger/send`, form({ text: "balance please" }));
    expect(broker.state.registrations).toBe(1);
    const page = await chatText(go);
    expect(page.match(/€2,450\.17/g)).toHaveLength(2);
  });

  it("updates the same registration (RFC 7592 PUT) when the sandbox's setup changes", async () => {
    await sandbox.close();
    idpPort = await freePort();
    sandbox = await startSandbox();
    await go(`${base}/healthz`).catch(() => {});
    await sandbox.registration.get();
    expect(broker.state.registrations).toBe(1);
    expect(broker.state.updates).toBe(1);
    const [client] = [...broker.state.clients.values()];
    expect((client!.bank_idp as { issuer: string }).issuer).toBe(`http://127.0.0.1:${idpPort}`);
    await go(`${base}/messenger/send`, form({ text: "balance" }));
    expect((await chatText(go)).match(/€2,450\.17/g)).toHaveLength(3);
  });

  it("Log Out tells the bank bot and the broker with signed webhooks", async () => {
    const res = await go(`${base}/messenger/unlink`, { method: "POST" });
    expect(res.status).toBe(303);
    expect(broker.state.webhooks.at(-1)?.status).toBe("unlinked");
    await go(`${base}/messenger/send`, form({ text: "What is my balance?" }));
    const page = await chatText(go);
    expect(page).toContain("You logged out of Sandbox Bank.");
    expect(page.slice(page.lastIndexOf("You logged out"))).not.toContain("€");
    expect(page).toContain("Log In");
  });

  it("unlink_accounts from the broker reaches the bank bot", async () => {
    // Link again, then let the broker unlink through the Graph API.
    const link = (await go(`${base}/messenger/account_link`)).headers.get("location")!;
    await go((await go(link)).headers.get("location")!);
    const psid = [...broker.state.links.keys()].at(-1)!;
    expect(sandbox.bot.isLinked(psid)).toBe(true);
    const res = await fetch(`${base}/graph/me/unlink_accounts?access_token=${sandbox.secrets.pageAccessToken}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ psid }),
    });
    expect(await res.json()).toEqual({ result: "unlink account success" });
    expect(sandbox.bot.isLinked(psid)).toBe(false);
  });

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
    await go(`${base}/`);
    await broker.close();
    const started = Date.now();
    const page = await chatText(go);
    expect(page).toContain("The bank is not reachable right now (broker down)");
    const login = await go(`${base}/messenger/account_link`);
    expect(login.status).toBe(303);
    expect(await chatText(go)).toContain("broker down");
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("a Log Out while the broker is down reaches it once it is back", async () => {
    const go = cookieFetch();
    await go(`${base}/`);
    await go(`${base}/messenger/unlink`, { method: "POST" });
    expect(await chatText(go)).toContain("sent to the bank as soon as it is back");
    broker = await startFakeBroker({ port: brokerPort, registrationToken: REG_TOKEN, graphUrl: () => `${base}/graph` });
    // The new stand-in knows no clients: give it the stored registration so the webhook is accepted.
    const reg = sandbox.registration.stored()!;
    broker.state.clients.set(reg.client_id, { jwks: { keys: [] }, rat: reg.registration_access_token, messenger: { page_access_token: sandbox.secrets.pageAccessToken, app_secret: sandbox.secrets.appSecret }, bank_idp: {} });
    await expect.poll(() => broker.state.webhooks.length, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(broker.state.webhooks.at(-1)!.status).toBe("unlinked");
  });
});
