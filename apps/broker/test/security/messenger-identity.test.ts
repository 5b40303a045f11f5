// Finding 4: an attacker taps Log In in their own chat and sends the link to a victim, who signs
// in, enters their code and approves, linking the attacker's Messenger account to the victim's
// bank account. The consent page now names the Messenger account (name and picture from the
// Graph API, or a clear warning when they cannot be read), and an attempt stays bound to the
// browser that opened /link.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CookieJar } from "../support/cookie-jar.ts";
import { bankLogin, driveLinkFlow, openLink } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "../support/linking-env.ts";

let env: LinkingEnv;
let client: SeededClient;
beforeAll(async () => {
  env = await startLinkingEnv();
  client = await env.seedClient({ name: "Demo Bank" });
});
afterAll(() => env?.close());

describe("the consent page names the Messenger account being linked", () => {
  it("attack: the victim approves a link started in the attacker's chat → the page shows the attacker's name and picture, and warns", async () => {
    env.graph.setProfile("psid-mallory", { name: "Mallory <script>x</script>", profile_pic: "https://scontent.example/pic/mallory.jpg" });
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-mallory", stopAt: "consent" });
    const page = await result.last.text();
    expect(result.last.status).toBe(200);
    expect(page).toContain("Messenger account being linked");
    expect(page).toContain("Mallory &lt;script&gt;x&lt;/script&gt;");
    expect(page).toContain('src="https://scontent.example/pic/mallory.jpg"');
    expect(page).toMatch(/Only continue if you tapped the link in your own Messenger chat/);
    expect(result.last.headers.get("content-security-policy")).toContain("img-src 'self' data: https://scontent.example;");
    // The consent form's answer lands on Messenger: its allowlisted origin, and no other.
    expect(result.last.headers.get("content-security-policy")).toContain(`form-action 'self' ${new URL(env.messengerRedirect).origin};`);
    const lookups = env.graph.calls.filter((c) => c.path === "/psid-mallory");
    expect(lookups.at(-1)?.query.fields).toBe("name,profile_pic");
  });

  it("without the profile permission the page says it could not confirm the account, and warns", async () => {
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-no-profile", username: "bob", stopAt: "consent" });
    const page = await result.last.text();
    expect(result.last.status).toBe(200);
    expect(page).toContain("We could not confirm which Messenger account this link is for.");
    expect(page).toContain('If someone sent you this link, choose "Don\'t link"');
    expect(result.last.headers.get("content-security-policy")).toContain("img-src 'self' data:;");
  });

  it("a picture that is not https is not shown, and never widens the CSP", async () => {
    env.graph.setProfile("psid-plain", { name: "Plain", profile_pic: "javascript:alert(1)" });
    env.clock.advance(31_000); // a fresh TOTP step for alice, whose last code is spent
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-plain", stopAt: "consent" });
    const page = await result.last.text();
    expect(page).toContain("<strong>Plain</strong>");
    expect(page).not.toContain("javascript:");
    expect(result.last.headers.get("content-security-policy")).toContain("img-src 'self' data:;");
  });
});

describe("an attempt is bound to the browser that opened /link", () => {
  it("attack: the bank's answer replayed in another browser → refused, the attempt does not move", async () => {
    const start = await openLink(env, { clientId: client.id, psid: "psid-bound" });
    expect(start.response.status).toBe(302);
    const callback = await bankLogin(env, start.jar, start.response.headers.get("location")!);
    const other = new CookieJar();
    const res = await other.fetch(callback);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("We lost track of this link");
    for (const path of ["/link/2fa", "/link/consent"]) expect((await other.fetch(`${env.brokerUrl}${path}`)).status).toBe(400);
    const attempt = await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-bound" } });
    expect(attempt.state).toBe("started");
    // The browser that opened /link still finishes.
    expect((await start.jar.fetch(callback)).status).toBe(303);
  });
});
