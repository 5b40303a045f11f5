import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createBot } from "./bot-service.ts";
import type { RegistrationManager } from "./registration.ts";

let dir: string | undefined;
afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A bot over a links file as the bank keeps it; forgetting links needs no broker. */
function botWith(links: Record<string, { sub: string; link_id?: string; consent_id?: string }>) {
  dir = mkdtempSync(join(tmpdir(), "bot-service-"));
  const stored = Object.fromEntries(Object.entries(links).map(([psid, l]) => [psid, { ...l, scope: "balance:read", access_token: "at", linked_at: "2026-01-01T00:00:00Z" }]));
  writeFileSync(join(dir, "links.json"), JSON.stringify(stored));
  const registration = { get: () => Promise.reject(new Error("no broker in this test")), stored: () => null } as unknown as RegistrationManager;
  return createBot({ brokerUrl: "http://127.0.0.1:9", timeoutMs: 100, dataDir: dir, registration });
}

describe("the bot forgets the tokens of a withdrawn consent", () => {
  it("keeps a re-link's new tokens when the old consent's withdrawal arrives after them (same link, other consent)", () => {
    const bot = botWith({ "1111111111": { sub: "cust-1002", link_id: "link-1", consent_id: "consent-new" } });
    expect(bot.forgetLink({ consent_id: "consent-old", link_id: "link-1", psid: "1111111111" })).toEqual([]);
    expect(bot.isLinked("1111111111")).toBe(true);
    expect(bot.forgetLink({ consent_id: "consent-new", link_id: "link-1", psid: "1111111111" })).toEqual(["1111111111"]);
    expect(bot.isLinked("1111111111")).toBe(false);
  });

  it("falls back to the link, then the PSID, when the stored tokens name no consent", () => {
    const bot = botWith({ "2222222222": { sub: "cust-1001", link_id: "link-2" }, "3333333333": { sub: "cust-1003" } });
    expect(bot.forgetLink({ consent_id: "c", link_id: "link-2", psid: "2222222222" })).toEqual(["2222222222"]);
    expect(bot.forgetLink({ psid: "3333333333" })).toEqual(["3333333333"]);
    expect(bot.linkedPsids("cust-1003")).toEqual([]);
  });
});
