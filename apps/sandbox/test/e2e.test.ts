// Browser end-to-end against the real broker: `scripts/start.ts` (broker + sandbox, what
// `pnpm start` runs) on free ports and a temp data dir, with a database of its own when
// DATABASE_URL is set, driven in Debian's Chromium at phone size. It goes through the broker's
// pages as DESIGN.md describes them: the bank's login, /link/2fa (field `code`, otpauth:// URI
// as text), /link/consent (buttons `decision=approve|deny`); then restarts the stack, kills the
// broker process, and checks what the chat page says each time.
//
// UPDATE_SCREENSHOTS=1 also writes the README's screenshots to docs/screenshots/.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { chromiumPath } from "./support/chromium.ts";
import { CHROMIUM_ARGS, checkPage as checkPageOf, createStack, type PageCheck, type Stack } from "./support/stack.ts";

// Before anything starts: without Chromium the suite fails here, in one line that says what to do.
const CHROMIUM = chromiumPath();

let stack: Stack;
let brokerUrl: string;
let chatUrl: string;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
const pageChecks: PageCheck[] = [];
const checkPage = (name: string, docsName?: string) => checkPageOf(page, pageChecks, name, docsName);

async function chat(text: string) {
  await page.fill("#text", text);
  await Promise.all([page.waitForURL(`${chatUrl}/`), page.click("form[action='/messenger/send'] button:has-text('Send')")]);
}

async function lastBotMessage(): Promise<string> {
  return (await page.locator(".msg.bot").last().innerText()).trim();
}

/** The current code from the demo authenticator, waiting for a new time step when `not` was just used. */
async function authenticatorCode(not?: string): Promise<string> {
  for (let i = 0; i < 40; i++) {
    const res = await page.request.get(`${chatUrl}/authenticator/codes`);
    const codes = (await res.json()) as { code: string }[];
    const code = codes[0]?.code;
    if (code && code !== not) return code;
    await page.waitForTimeout(1000);
  }
  throw new Error("no fresh TOTP code in the demo authenticator");
}

/** Log In from the chat through the bank's login page, up to the broker's second-factor page. */
async function logInAtBank() {
  await page.goto(`${chatUrl}/`);
  await Promise.all([page.waitForURL((u) => !u.toString().startsWith(chatUrl)), page.click("#login")]);
  if (await page.locator("input[name=username]").count()) {
    await checkPage("bank-login", "2-bank-login");
    await page.fill("input[name=username]", "ada");
    await page.fill("input[name=password]", "ada");
    await Promise.all([page.waitForURL((u) => u.toString().startsWith(brokerUrl)), page.click("button[type=submit]")]);
  }
  await page.waitForSelector("input[name=code]");
}

async function submitCode(code: string) {
  await page.fill("input[name=code]", code);
  await Promise.all([page.waitForLoadState("load"), page.locator("input[name=code]").press("Enter")]);
  await page.waitForSelector("button[name=decision]");
}

async function decide(decision: "approve" | "deny") {
  await Promise.all([page.waitForURL(`${chatUrl}/`), page.click(`button[name=decision][value=${decision}]`)]);
}

beforeAll(async () => {
  stack = await createStack();
  ({ brokerUrl, chatUrl } = stack);
  const line = await stack.start();
  expect(line).toContain(`${chatUrl}/`);

  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.setDefaultTimeout(20_000);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.dispose();
}, 60_000);

const lastCode: { value?: string } = {};

describe("sandbox in Chromium against the real broker", () => {
  it("serves the chat page at phone width", async () => {
    await page.goto(`${chatUrl}/`);
    expect(await page.locator("h1").innerText()).toContain("Sandbox Bank");
    await checkPage("chat-start");
    expect(await page.locator("text=Sandbox-only demo authenticator").count()).toBe(1);
  });

  it("links: bank login, TOTP enrolment with the demo authenticator, consent; then the balance", async () => {
    await logInAtBank();
    await checkPage("totp-enrol", "3-totp-enrol");
    const text = await page.locator("body").innerText();
    const uri = /otpauth:\/\/totp\/\S+/.exec(text)?.[0];
    expect(uri, "the enrolment page shows the otpauth:// URI as text").toBeTruthy();

    // The customer types it into their "phone": the demo panel in a second tab of the chat.
    const phone = await context.newPage();
    await phone.goto(`${chatUrl}/`);
    await phone.fill("#secret", uri!);
    await Promise.all([phone.waitForURL(`${chatUrl}/`), phone.click("form[action='/authenticator'] button")]);
    const shown = (await phone.locator("[data-testid=totp-code]").first().innerText()).trim();
    expect(shown).toMatch(/^\d{6}$/);
    await phone.close();

    await submitCode(shown);
    lastCode.value = shown;
    await checkPage("consent", "4-consent");
    await decide("approve");
    expect(await page.locator("text=Account linked.").count()).toBeGreaterThan(0);
    await checkPage("chat-linked");

    // The bank tells the customer where their consent receipt is; the page shows the terms and the JWS.
    const told = await page.locator(".msg.bot", { hasText: "Keep your consent receipt:" }).innerText();
    const receiptUrl = /https?:\/\/\S+\/receipts\/\S+/.exec(told)?.[0];
    expect(receiptUrl, "the chat names the receipt page").toBeTruthy();
    const receipt = await context.newPage();
    await receipt.goto(receiptUrl!);
    expect(await receipt.locator("h1").innerText()).toBe("Your consent receipt");
    const receiptText = await receipt.locator("body").innerText();
    expect(receiptText).toContain("Sandbox Bank");
    expect(receiptText).toContain("never used for advertising");
    expect(await receipt.locator("code").innerText()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    await receipt.close();

    await chat("What is my balance?");
    expect(await lastBotMessage()).toMatch(/€/);
    await checkPage("chat-balance", "5-chat-balance");
  }, 120_000);

  it("a restart of `pnpm start` keeps the registration and the link: the balance still works", async () => {
    await stack.stop();
    expect(stack.process!.exitCode ?? stack.process!.signalCode, "start.ts stops on SIGTERM").not.toBeNull();
    const line = await stack.start();
    expect(line).toContain(`${chatUrl}/`);
    await page.goto(`${chatUrl}/`);
    await chat("balance please");
    expect(await lastBotMessage()).toMatch(/€/);
    expect(stack.log).not.toMatch(/registration with the broker failed|verify handshake/);
  }, 120_000);

  it("Log Out from Messenger: the balance is refused afterwards", async () => {
    await Promise.all([page.waitForURL(`${chatUrl}/`), page.click("#logout")]);
    expect(await page.locator("[role=alert]").count(), "the broker took the Log Out").toBe(0);
    await chat("What is my balance?");
    const answer = await lastBotMessage();
    expect(answer).not.toMatch(/€/);
    expect(answer).toMatch(/not linked|no longer have access/);
    expect(await page.locator("#login").count()).toBe(1);
  }, 60_000);

  it("a denied consent links nothing and shares nothing", async () => {
    await logInAtBank();
    expect(await page.locator("body").innerText()).not.toMatch(/otpauth:\/\//);
    await checkPage("totp-verify");
    // A wrong code keeps the customer on the page with an error they can act on.
    await page.fill("input[name=code]", "000000");
    await Promise.all([page.waitForLoadState("load"), page.locator("input[name=code]").press("Enter")]);
    expect(await page.locator("[role=alert]").innerText()).not.toBe("");
    await checkPage("totp-wrong-code");
    lastCode.value = await authenticatorCode(lastCode.value);
    await submitCode(lastCode.value);
    await decide("deny");
    expect(await page.locator("text=Linking was cancelled").count()).toBeGreaterThan(0);
    await chat("What is my balance?");
    expect(await lastBotMessage()).not.toMatch(/€/);
  }, 90_000);

  it("a second link verifies the enrolled TOTP instead of enrolling again", async () => {
    await logInAtBank();
    expect(await page.locator("body").innerText()).not.toMatch(/otpauth:\/\//);
    lastCode.value = await authenticatorCode(lastCode.value);
    await submitCode(lastCode.value);
    await decide("approve");
    expect(await page.locator("text=Account linked.").count()).toBeGreaterThan(0);
    await chat("Any fraud alerts?");
    expect(await lastBotMessage()).toMatch(/fraud alert/i);
  }, 90_000);

  it("a stale Log In link gets the broker's error page, not a blank one", async () => {
    const res = await page.goto(`${brokerUrl}/link?client_id=unknown&request_uri=urn:ietf:params:oauth:request_uri:stale`);
    expect(res?.status()).toBeGreaterThanOrEqual(400);
    expect(await page.locator("h1").innerText()).not.toBe("");
    await checkPage("broker-error");
  });

  it("killing the broker process: the chat page says the bank is not reachable, without hanging", async () => {
    process.kill(stack.brokerPid(), "SIGKILL");
    const started = Date.now();
    await page.goto(`${chatUrl}/`);
    const banner = "The bank is not reachable right now (broker down)";
    expect(await page.locator("[data-testid=broker-down]").innerText()).toContain(banner);
    await checkPage("chat-broker-down");

    // Linked, so the bot needs the broker's ledger check: it answers with the outage, not stale data.
    await chat("What is my balance?");
    const answer = await lastBotMessage();
    expect(answer).toContain("broker down");
    expect(answer).not.toMatch(/€/);

    // Log Out is kept for the broker; Log In needs its PAR endpoint: both say so clearly.
    await Promise.all([page.waitForURL(`${chatUrl}/`), page.click("#logout")]);
    expect(await page.locator("text=sent to the bank as soon as it is back").count()).toBeGreaterThan(0);
    await Promise.all([page.waitForURL(`${chatUrl}/`), page.click("#login")]);
    expect(await page.locator(`text=${banner}`).count()).toBeGreaterThan(0);
    expect(Date.now() - started, "every step answers well within the broker timeout").toBeLessThan(20_000);
    expect(stack.log).toContain("the broker stopped");
  }, 60_000);

  it("once the broker is back (a restart of `pnpm start`), the kept Log Out reaches it", async () => {
    await stack.stop();
    await stack.start();
    const outbox = join(stack.dataRoot, ".data", "sandbox", "webhook-outbox.json");
    await expect.poll(() => JSON.parse(readFileSync(outbox, "utf8")) as unknown[], { timeout: 15_000, interval: 500 }).toEqual([]);
    await page.goto(`${chatUrl}/`);
    expect(await page.locator("[role=alert]").count(), "no error on the chat page").toBe(0);
    await chat("What is my balance?");
    expect(await lastBotMessage()).not.toMatch(/€/);
  }, 60_000);

  it("every page fits a phone (no horizontal scrollbar) and labels every form field", () => {
    expect(pageChecks.map((p) => p.name)).toEqual(expect.arrayContaining(["bank-login", "totp-enrol", "consent", "totp-verify", "totp-wrong-code", "broker-error", "chat-balance", "chat-broker-down"]));
    const bad = pageChecks.filter((p) => !p.scrollOk || p.unlabeled.length > 0);
    expect(bad).toEqual([]);
  });

  it("neither the broker nor the sandbox logged an error along the way", () => {
    expect(stack.loggedErrors).toEqual([]);
  });
});
