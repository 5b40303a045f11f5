// The compliance console in real Chromium, over a broker with consents made through the real
// linking flow (real OAuth server and ledger, oidc-provider bank IdP, fake Graph on loopback).
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bankApi, type BankApi } from "./support/bank-api.ts";
import { driveLinkFlow } from "./support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type RegisteredBank } from "./support/linking-env.ts";
import { createStaff, totpAt } from "./support/staff.ts";

const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"];
const PASSWORD = "correct horse battery staple";
const BIN = fileURLToPath(new URL("../bin/link-broker.js", import.meta.url));

let env: LinkingEnv;
let bank: RegisteredBank;
let api: BankApi;
let browser: Browser;
let alice: { linkId: string; consentId: string; access: string };
const contexts: BrowserContext[] = [];
const secrets = new Map<string, string>();

async function linkCustomer(username: string, psid: string) {
  env.clock.advance(60_000);
  const { verifier, challenge } = api.pkce();
  const requestUri = await api.par({ scope: "balance:read alerts:fraud", code_challenge: challenge });
  const flow = await driveLinkFlow(env, { clientId: bank.client_id, psid, username, params: { request_uri: requestUri } });
  const tokens = await api.exchange(flow.authorizationCode!, verifier);
  const link = await env.db.prisma.link.findFirstOrThrow({ where: { clientId: bank.client_id, psid } });
  return { linkId: link.id, consentId: link.consentId!, access: tokens.json.access_token as string };
}

/** Signs in through the pages: password, then the TOTP step (enrolling from the shown key the first time). */
async function signIn(email: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${env.brokerUrl}/console`);
  expect(new URL(page.url()).pathname).toBe("/console/login");
  await page.fill("#email", email);
  await page.fill("#password", PASSWORD);
  await Promise.all([page.waitForURL("**/console/login/totp"), page.click("button[type=submit]")]);
  if (!secrets.has(email)) {
    const uri = await page.textContent("[data-testid=otpauth]");
    secrets.set(email, new URL(uri!).searchParams.get("secret")!);
  }
  env.clock.advance(31_000); // each time step is accepted once
  await page.fill("#code", await totpAt(secrets.get(email)!, env.clock.now()));
  await Promise.all([page.waitForURL(`${env.brokerUrl}/console`), page.click("button[type=submit]")]);
  return page;
}

beforeAll(async () => {
  env = await startLinkingEnv({ deps: "real" });
  bank = await env.registerBank({ name: "Demo Bank" });
  api = bankApi(env, bank);
  alice = await linkCustomer("alice", "psid-alice");
  await linkCustomer("bob", "psid-bob");
  // Seeded history on a second bank: 3 grants, 1 withdrawal (for the chart totals).
  const ledger = env.broker.modules.ledger.ledger;
  const seeded = [];
  for (const subject of ["s1", "s2", "s3"]) seeded.push(await ledger.grant({ clientId: "seeded-bank", subject, scopes: ["balance:read"], actor: "customer" }));
  await ledger.withdraw({ consentId: seeded[0]!.consentId, actor: "bank", reason: "closed account" });
  await createStaff(env.db, "admin@bank.example", "admin", PASSWORD);
  await createStaff(env.db, "auditor@bank.example", "auditor", PASSWORD);
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: CHROMIUM_ARGS });
}, 180_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => {});
  await browser?.close();
  await env?.close();
});

describe("compliance console in Chromium", () => {
  let admin: Page;

  it("an admin signs in with password and TOTP; the charts show the right totals", async () => {
    admin = await signIn("admin@bank.example");
    await expect(admin.textContent("[data-testid=whoami]")).resolves.toBe("admin@bank.example (admin)");
    const daily = admin.locator("svg[data-chart=daily]");
    await expect(daily.getAttribute("data-granted")).resolves.toBe("5");
    await expect(daily.getAttribute("data-withdrawn")).resolves.toBe("1");
    expect((await daily.boundingBox())!.width).toBeGreaterThan(300);
    // The drawn bars add up to the same totals.
    const drawn = async (series: string) => (await daily.locator(`rect[fill='${series}'] title`).allTextContents()).reduce((n, t) => n + Number(/: (\d+) /.exec(t)![1]), 0);
    expect(await drawn("#1a7f37")).toBe(5);
    expect(await drawn("#cf222e")).toBe(1);
    const demo = admin.locator(`svg[data-chart=banks] g[data-bank="${bank.client_id}"]`);
    await expect(demo.getAttribute("data-granted")).resolves.toBe("2");
    const seeded = admin.locator('svg[data-chart=banks] g[data-bank="seeded-bank"]');
    await expect(seeded.getAttribute("data-granted")).resolves.toBe("3");
    await expect(seeded.getAttribute("data-withdrawn")).resolves.toBe("1");
    await expect(admin.locator("svg[data-chart=attempts]").getAttribute("aria-label")).resolves.toMatch(/^Link attempts: 2 started; linked 2 \(100%\)/);
  }, 120_000);

  it("works at phone width: no page scrolls sideways", async () => {
    await admin.setViewportSize({ width: 390, height: 800 });
    for (const path of ["/console", "/console/consents", `/console/consents/${alice.consentId}`, "/console/banks", "/console/audit", "/console/customers?subject=cust-alice-001"]) {
      await admin.goto(`${env.brokerUrl}${path}`);
      const { scroll, client } = await admin.evaluate<{ scroll: number; client: number }>("({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth })");
      expect(scroll, path).toBeLessThanOrEqual(client);
    }
    await admin.setViewportSize({ width: 1280, height: 900 });
    await admin.goto(`${env.brokerUrl}/console`);
  }, 60_000);

  it("finds a consent made through the linking flow and shows its timeline", async () => {
    await admin.click("nav >> text=Consents");
    await admin.fill("#customer", "cust-alice-001");
    await admin.selectOption("#bank", bank.client_id);
    await Promise.all([admin.waitForURL(/\/console\/consents\?/), admin.click("form.filters button[type=submit]")]);
    const rows = admin.locator("[data-testid=results] tbody tr");
    await expect(rows.count()).resolves.toBe(1);
    await Promise.all([admin.waitForURL(`**/console/consents/${alice.consentId}`), rows.locator("a").first().click()]);
    const timeline = admin.locator("[data-testid=timeline] li");
    await expect(timeline.count()).resolves.toBe(1);
    await expect(timeline.first().textContent()).resolves.toMatch(/granted by customer/);
    await expect(admin.textContent("[data-testid=receipt]")).resolves.toMatch(/^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  }, 60_000);

  it("garbage in the search form gets an empty result or a 400 page, never a 5xx", async () => {
    for (const q of ["customer=%27%20OR%201%3D1%20--", "scope=%3Cscript%3E", "status=nonsense", "from=31/12/2026"]) {
      const res = await admin.goto(`${env.brokerUrl}/console/consents?${q}`);
      expect([200, 400], q).toContain(res!.status());
      expect(await admin.content()).not.toContain("<script>");
    }
  }, 60_000);

  it("an auditor has no withdraw button, and a forged POST gets 403", async () => {
    const auditor = await signIn("auditor@bank.example");
    await auditor.goto(`${env.brokerUrl}/console/consents/${alice.consentId}`);
    await expect(auditor.locator("text=Withdraw consent").count()).resolves.toBe(0);
    const csrf = await auditor.getAttribute("form[action='/console/logout'] input[name=csrf]", "value");
    const forged = await auditor.request.post(`${env.brokerUrl}/console/consents/${alice.consentId}/withdraw`, { form: { reason: "forged", csrf: csrf! } });
    expect(forged.status()).toBe(403);
    expect(await api.check({ link_id: alice.linkId, scope: "balance:read" })).toMatchObject({ allowed: true });
  }, 120_000);

  it("an admin withdraws: /ledger/check answers withdrawn and the bank's token is inactive", async () => {
    expect((await api.introspect(alice.access)).active).toBe(true);
    await admin.goto(`${env.brokerUrl}/console/consents/${alice.consentId}`);
    await admin.fill("#reason", "customer complaint by phone");
    await Promise.all([admin.waitForURL(/done=withdrawn/), admin.click("text=Withdraw consent")]);
    await expect(admin.textContent("[data-testid=status]")).resolves.toBe("withdrawn");
    await expect(admin.locator("[data-testid=timeline] li").last().textContent()).resolves.toMatch(/withdrawn by compliance[\s\S]*customer complaint by phone/);
    expect(await api.check({ link_id: alice.linkId, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "withdrawn" });
    expect(await api.introspect(alice.access)).toEqual({ active: false });
    expect(env.graph.unlinkCalls().map((c) => c.body)).toContainEqual({ psid: "psid-alice" });
  }, 60_000);

  it("downloads an export of the current search", async () => {
    await admin.goto(`${env.brokerUrl}/console/consents?bank=${bank.client_id}`);
    const [download] = await Promise.all([admin.waitForEvent("download"), admin.click("text=Export CSV")]);
    expect(download.suggestedFilename()).toBe("consents.csv");
    const lines = readFileSync((await download.path())!, "utf8").trim().split("\r\n");
    expect(lines).toHaveLength(3);
    expect(lines.find((l) => l.includes(alice.consentId))).toContain('"withdrawn"');
  }, 60_000);

  it("verify passes", async () => {
    await admin.click("nav >> text=Integrity");
    await Promise.all([admin.waitForURL(/integrity\/verify/), admin.click("text=Verify now")]);
    await expect(admin.textContent("[data-testid=verify-result] [role=status]")).resolves.toBe("The ledger verifies.");
    await expect(admin.textContent("[data-testid=checked]")).resolves.toBe(String(await env.db.prisma.ledgerEntry.count()));
  }, 60_000);

  it("the staff audit log lists what this test just did", async () => {
    await admin.click("nav >> text=Audit log");
    const actions = await admin.locator("[data-testid=audit] tbody tr td:nth-child(4)").allTextContents();
    for (const action of ["sign_in", "search", "view", "withdraw", "export", "verify"]) expect(actions, action).toContain(action);
    const withdraw = admin.locator("[data-testid=audit] tbody tr", { hasText: "withdraw" }).first();
    await expect(withdraw.textContent()).resolves.toContain("admin@bank.example");
    await expect(withdraw.textContent()).resolves.toContain(`consent:${alice.consentId}`);
  }, 60_000);

  it("after tampering (trigger disabled as owner) the console and `ledger verify` name the bad entry", async () => {
    const target = await env.db.prisma.ledgerEntry.findFirstOrThrow({ where: { consentId: alice.consentId, action: "granted" } });
    await env.db.adminQuery(`ALTER TABLE ledger_entry DISABLE TRIGGER USER; UPDATE ledger_entry SET scopes = ARRAY['balance:read','transactions:read'] WHERE seq = ${target.seq}; ALTER TABLE ledger_entry ENABLE TRIGGER USER;`);
    await admin.goto(`${env.brokerUrl}/console/integrity/verify`);
    await expect(admin.textContent("[data-testid=verify-result] [role=status]")).resolves.toMatch(/does NOT verify/);
    await expect(admin.textContent("[data-testid=first-bad]")).resolves.toBe(target.seq.toString());
    // The CLI reads the same database: only a server database can be shared with another process
    // (the PGlite leg of CI checks the CLI on the same tamper in cli.test.ts).
    const url = (env.db as { url?: string }).url;
    if (url) {
      const res = spawnSync(process.execPath, [BIN, "ledger", "verify"], { env: { PATH: process.env.PATH!, DATABASE_URL: url, BROKER_MASTER_KEY: env.config.masterKey.key.toString("base64"), BROKER_REGISTRATION_TOKEN: "t".repeat(40), LOG_LEVEL: "silent" }, encoding: "utf8", timeout: 120_000 });
      expect(res.status).toBe(3);
      expect(JSON.parse(res.stdout)).toMatchObject({ ok: false, first_bad_seq: target.seq.toString() });
      expect(res.stderr).toContain(`first bad entry is seq ${target.seq}`);
    }
  }, 180_000);
});
