// Browser end-to-end of what the bank pushes, against the real broker (scripts/start.ts, as in
// e2e.test.ts): a customer links with fraud alerts ticked on the consent page; the bank-side page
// simulates a suspicious card payment and the alert appears in the chat without the customer
// asking (the page polls); after Log Out the bank's events_uri has consent.withdrawn and the next
// payment sends nothing, the bank page saying `withdrawn`. A second customer leaves fraud alerts
// unticked: balances work, and no alert is ever pushed.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { chromiumPath } from "./support/chromium.ts";
import { CHROMIUM_ARGS, checkPage, createStack, type PageCheck, type Stack } from "./support/stack.ts";

const CHROMIUM = chromiumPath();
const ALERT = "Fraud alert: a card payment";
const SALARY = "Money in: €2,800.00 salary";

let stack: Stack;
let browser: Browser | undefined;
const pageChecks: PageCheck[] = [];

beforeAll(async () => {
  stack = await createStack();
  expect(await stack.start()).toContain(`${stack.chatUrl}/`);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.dispose();
}, 60_000);

/** One Messenger user: a browser context of its own (its own PSID cookie) at phone size. */
async function messengerUser(): Promise<{ context: BrowserContext; chat: Page; psid: () => Promise<string> }> {
  const context = await browser!.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 1 });
  const chat = await context.newPage();
  chat.setDefaultTimeout(20_000);
  await chat.goto(`${stack.chatUrl}/`);
  const psid = async () => (await context.cookies(stack.chatUrl)).find((c) => c.name === "sandbox_psid")!.value;
  return { context, chat, psid };
}

const usedCodes = new Set<string>();

/** The demo authenticator's code for the account added last (listed first), never one used before. */
async function freshCode(chat: Page): Promise<string> {
  for (let i = 0; i < 40; i++) {
    const [first] = (await (await chat.request.get(`${stack.chatUrl}/authenticator/codes`)).json()) as { code: string }[];
    if (first && !usedCodes.has(first.code)) {
      usedCodes.add(first.code);
      return first.code;
    }
    await chat.waitForTimeout(1000);
  }
  throw new Error("no fresh TOTP code in the demo authenticator");
}

/**
 * Log In from the chat (or "Change permissions" when linked): the bank's login, the second factor
 * (enrolled with the demo authenticator the first time), and the consent page with `tick` ticked.
 */
async function link(chat: Page, username: string, tick: string[], button = "#login") {
  await Promise.all([chat.waitForURL((u) => !u.toString().startsWith(stack.chatUrl)), chat.click(button)]);
  if (await chat.locator("input[name=username]").count()) {
    await chat.fill("input[name=username]", username);
    await chat.fill("input[name=password]", username);
    await Promise.all([chat.waitForURL((u) => u.toString().startsWith(stack.brokerUrl)), chat.click("button[type=submit]")]);
  }
  await chat.waitForSelector("input[name=code]");
  const uri = /otpauth:\/\/totp\/\S+/.exec(await chat.locator("body").innerText())?.[0];
  // The "phone": the demo authenticator, which lists the secret just added first.
  if (uri) await chat.request.post(`${stack.chatUrl}/authenticator`, { form: { secret: uri } });
  await chat.fill("input[name=code]", await freshCode(chat));
  await Promise.all([chat.waitForLoadState("load"), chat.locator("input[name=code]").press("Enter")]);
  await chat.waitForSelector("button[name=decision]");

  // Every optional permission is offered unticked; the customer ticks what they want.
  const optional = chat.locator("input[type=checkbox][name=scope]");
  expect(await optional.count()).toBeGreaterThanOrEqual(3);
  for (const box of await optional.all()) expect(await box.isChecked()).toBe(false);
  for (const scope of tick) await chat.check(`input[type=checkbox][name=scope][value="${scope}"]`);
  await checkPage(chat, pageChecks, `consent-${username}`);
  await Promise.all([chat.waitForURL(`${stack.chatUrl}/`), chat.click("button[name=decision][value=approve]")]);
  expect(await chat.locator("text=Account linked.").count()).toBeGreaterThan(0);
}

async function say(chat: Page, text: string): Promise<string> {
  await chat.fill("#text", text);
  await Promise.all([chat.waitForURL(`${stack.chatUrl}/`), chat.click("form[action='/messenger/send'] button:has-text('Send')")]);
  return (await chat.locator(".msg.bot").last().innerText()).trim();
}

/** The bank-side page: simulate one event for one customer; answers the newest outcome's result and reason. */
async function simulate(bank: Page, customerId: string, kind: "fraud" | "salary") {
  await bank.goto(`${stack.chatUrl}/bank`);
  await Promise.all([bank.waitForURL(`${stack.chatUrl}/bank`), bank.click(`[data-customer="${customerId}"] button[data-kind="${kind}"]`)]);
  const newest = bank.locator("[data-testid=bank-outcome]").first();
  return { outcome: await newest.getAttribute("data-outcome"), reason: await newest.getAttribute("data-reason"), text: await newest.innerText() };
}

/** The consent event types the bank's events_uri received for one PSID, oldest first. */
async function eventsFor(page: Page, psid: string): Promise<string[]> {
  const { events } = (await (await page.request.get(`${stack.chatUrl}/bot/events/received`)).json()) as { events: { type: string; psid?: string }[] };
  return events.filter((e) => e.psid === psid).map((e) => e.type);
}

const pushed = (chat: Page, text: string) => chat.locator(".msg.bot", { hasText: text }).count();

describe("the bank pushes only what the customer allowed, straight to Messenger", () => {
  it("fraud alerts allowed: a suspicious payment appears in the chat unasked; after Log Out the bank hears consent.withdrawn and sends nothing", async () => {
    const { context, chat, psid } = await messengerUser();
    await link(chat, "ada", ["alerts:fraud", "transactions:read", "support:chat"]);
    expect(await say(chat, "What is my balance?")).toMatch(/€/);

    // The chat stays open, untouched: a marker in the page shows it is never reloaded.
    await chat.evaluate("window.__sameDocument = true");
    const bank = await context.newPage();
    const pushedAt = Date.now();
    const sent = await simulate(bank, "cust-1001", "fraud");
    expect(sent).toMatchObject({ outcome: "sent", reason: "active" });
    await checkPage(bank, pageChecks, "bank-page", "6-bank-page");
    await chat.locator(".msg.bot", { hasText: ALERT }).waitFor({ timeout: 10_000 });
    console.info(`bank page click → alert shown in the open chat: ${Date.now() - pushedAt} ms (the chat polls every 2 s)`);
    expect(await chat.evaluate("window.__sameDocument === true"), "the alert arrived without a reload").toBe(true);
    await checkPage(chat, pageChecks, "chat-pushed-alert", "7-chat-pushed-alert");

    // The other permissions she ticked work too.
    expect(await simulate(bank, "cust-1001", "salary")).toMatchObject({ outcome: "sent" });
    await chat.locator(".msg.bot", { hasText: SALARY }).waitFor({ timeout: 10_000 });
    expect(await say(chat, "talk to a person")).toContain("handing you over to a person");

    // Log Out in Messenger: the broker withdraws the consent and tells the bank's events_uri.
    const loggedOut = Date.now();
    await Promise.all([chat.waitForURL(`${stack.chatUrl}/`), chat.click("#logout")]);
    const me = await psid();
    await expect.poll(() => eventsFor(bank, me), { timeout: 10_000, interval: 250 }).toContain("consent.withdrawn");
    console.info(`Log Out → consent.withdrawn at the bank's events_uri: ${Date.now() - loggedOut} ms (polled every 250 ms)`);

    const alertsBefore = await pushed(chat, ALERT);
    const refused = await simulate(bank, "cust-1001", "fraud");
    expect(refused).toMatchObject({ outcome: "refused", reason: "withdrawn" });
    expect(refused.text).toContain("withdrawn");
    expect(await bank.locator("[data-testid=consent-event][data-type='consent.withdrawn']").count()).toBeGreaterThan(0);
    await chat.waitForTimeout(3000); // two polls of the chat page
    expect(await pushed(chat, ALERT)).toBe(alertsBefore);
    await context.close();
  }, 150_000);

  it("fraud alerts unticked: balances work, no alert is pushed, and the support chat is one re-link away", async () => {
    const { context, chat, psid } = await messengerUser();
    await link(chat, "grace", []);
    expect(await say(chat, "What is my balance?")).toMatch(/€/);

    const bank = await context.newPage();
    expect(await simulate(bank, "cust-1002", "fraud")).toMatchObject({ outcome: "refused", reason: "scope_not_granted" });
    expect(await simulate(bank, "cust-1002", "salary")).toMatchObject({ outcome: "refused", reason: "scope_not_granted" });
    await chat.waitForTimeout(3000);
    expect(await pushed(chat, ALERT)).toBe(0);
    expect(await pushed(chat, SALARY)).toBe(0);
    expect(await say(chat, "talk to a person")).toContain("did not allow the support chat");

    // She does what the bot said: "Change permissions", and ticks the support chat this time.
    await link(chat, "grace", ["support:chat"], "#relink");
    // Other terms replace the consent: the old one's consent.withdrawn reaches the bank, maybe
    // after the new tokens did, and must not take them away.
    const me = await psid();
    await expect.poll(() => eventsFor(bank, me), { timeout: 10_000, interval: 250 }).toContain("consent.withdrawn");
    expect(await say(chat, "talk to a person")).toContain("handing you over to a person");
    expect(await simulate(bank, "cust-1002", "fraud")).toMatchObject({ outcome: "refused", reason: "scope_not_granted" });
    expect(await pushed(chat, ALERT)).toBe(0);
    await context.close();
  }, 150_000);

  it("every page fits a phone and labels every form field", () => {
    expect(pageChecks.map((p) => p.name)).toEqual(expect.arrayContaining(["consent-ada", "consent-grace", "bank-page", "chat-pushed-alert"]));
    expect(pageChecks.filter((p) => !p.scrollOk || p.unlabeled.length > 0)).toEqual([]);
  });

  it("neither the broker nor the sandbox logged an error along the way", () => {
    expect(stack.loggedErrors).toEqual([]);
  });
});
