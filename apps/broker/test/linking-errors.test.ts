import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CookieJar } from "./support/cookie-jar.ts";
import { bankLogin, followUntil, linkUrl, openLink, PLAIN_PARAMS } from "./support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "./support/linking-env.ts";

/** A refused step is a readable page, never a redirect to an unverified place, never a 5xx. */
async function expectPage(response: Response, status: number, text: RegExp) {
  expect(response.status).toBe(status);
  expect(response.headers.get("location")).toBeNull();
  expect(response.headers.get("content-type")).toMatch(/^text\/html/);
  expect(response.headers.get("content-security-policy")).toContain("default-src 'none'");
  const body = await response.text();
  expect(body).toMatch(text);
  expect(body).not.toMatch(/at .*\.ts:\d+|stack/i);
  return body;
}

describe("GET /link refusals", () => {
  let env: LinkingEnv;
  let client: SeededClient;
  beforeAll(async () => {
    env = await startLinkingEnv({ deps: "real" });
    client = await env.seedClient();
  });
  afterAll(() => env?.close());

  it("never redirects to a redirect_uri off the allowlist, or a missing one", async () => {
    const evil = [
      "https://evil.example/messenger_platform/account_linking",
      "http://127.0.0.1:9/messenger_platform/account_linking_evil",
      "http://127.0.0.1:9/other",
      "http://user@127.0.0.1:9/messenger_platform/account_linking",
      "javascript:alert(1)",
      "not a url",
      "",
    ];
    for (const redirectUri of [...evil, undefined]) {
      const token = env.graph.issueToken("psid-x");
      const res = await fetch(linkUrl(env, { client_id: client.id, ...PLAIN_PARAMS, account_linking_token: token, redirect_uri: redirectUri }), { redirect: "manual" });
      const body = await expectPage(res, 400, /did not come from Messenger/);
      expect(body).not.toContain("Return to Messenger");
    }
    expect(await env.db.prisma.linkAttempt.count()).toBe(0);
    // A sub-path of the allowlisted prefix is fine.
    const ok = await openLink(env, { clientId: client.id, redirectUri: `${env.messengerRedirect}/v2?x=1` });
    expect(ok.response.status).toBe(302);
  });

  it("explains a missing or expired account_linking_token", async () => {
    const missing = await fetch(linkUrl(env, { client_id: client.id, ...PLAIN_PARAMS, redirect_uri: env.messengerRedirect }), { redirect: "manual" });
    const body = await expectPage(missing, 400, /missing Messenger&#39;s account linking token/);
    expect(body).toContain("Return to Messenger");

    const token = env.graph.issueToken("psid-expired");
    env.graph.expireToken(token);
    const expired = await fetch(linkUrl(env, { client_id: client.id, ...PLAIN_PARAMS, account_linking_token: token, redirect_uri: env.messengerRedirect }), { redirect: "manual" });
    await expectPage(expired, 400, /This link has expired/);
  });

  it("shows a friendly page when the Graph API is down, slow or answers garbage", async () => {
    for (const mode of ["500", "garbage"] as const) {
      env.graph.fail(1, mode);
      const start = await openLink(env, { clientId: client.id });
      await expectPage(start.response, 503, /Messenger is not answering/);
    }
  });

  it("refuses unknown clients and clients without Messenger or bank IdP settings", async () => {
    const bare = await env.seedClient({ messenger: false });
    const noIdp = await env.seedClient({ bankIdp: false });
    for (const id of ["nope", bare.id, noIdp.id]) {
      const start = await openLink(env, { clientId: id });
      expect(start.response.status).toBe(400);
      expect(start.response.headers.get("location")).toBeNull();
    }
    const noId = await fetch(`${env.brokerUrl}/link`, { redirect: "manual" });
    await expectPage(noId, 400, /not registered/);
  });

  it("checks plain authorization parameters as PAR would", async () => {
    const bad = [
      { ...PLAIN_PARAMS, scope: "" },
      { ...PLAIN_PARAMS, scope: "ledger:audit" },
      { ...PLAIN_PARAMS, code_challenge_method: "plain" },
      { ...PLAIN_PARAMS, code_challenge: "short" },
      { ...PLAIN_PARAMS, purpose: "advertising" },
      { ...PLAIN_PARAMS, purpose: "marketing fraud_alerts" },
      { ...PLAIN_PARAMS, consent_duration_days: "0" },
      { ...PLAIN_PARAMS, consent_duration_days: "99999" },
    ];
    for (const params of bad) {
      const start = await openLink(env, { clientId: client.id, params });
      await expectPage(start.response, 400, /request is not valid/);
    }
  });
});

describe("GET /link/callback refusals", () => {
  let env: LinkingEnv;
  let client: SeededClient;
  beforeAll(async () => {
    env = await startLinkingEnv({ deps: "real" });
    client = await env.seedClient();
  });
  afterAll(() => env?.close());

  it("records the bank customer's sub after a real oidc-provider login", async () => {
    const start = await openLink(env, { clientId: client.id, psid: "psid-cb" });
    const authorize = new URL(start.response.headers.get("location")!);
    expect(authorize.origin).toBe(env.idp.issuer);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${env.brokerUrl}/link/callback`);
    expect(authorize.searchParams.get("state")).toBeTruthy();
    expect(authorize.searchParams.get("nonce")).toBeTruthy();
    const cookie = start.response.headers.getSetCookie().join(";");
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i); // not in production

    const callback = await bankLogin(env, start.jar, authorize.href);
    const res = await start.jar.fetch(callback);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/link/2fa");
    const attempt = await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-cb" } });
    expect(attempt).toMatchObject({ state: "authenticated", bankSubject: "cust-alice-001" });
    // State, nonce and verifier are not stored in clear.
    expect(attempt.oidcStateHash).not.toBe(authorize.searchParams.get("state"));
    expect(attempt.oidcNonceSealed).not.toContain(authorize.searchParams.get("nonce"));
    // The same callback cannot be used twice.
    const again = await start.jar.fetch(callback);
    expect(again.status).toBe(409);
  });

  it("a callback with a state that is not the attempt's is refused and leaves the attempt alive", async () => {
    const start = await openLink(env, { clientId: client.id, psid: "psid-tamper" });
    const callback = await bankLogin(env, start.jar, start.response.headers.get("location")!);
    // A cross-site GET /link/callback?state=x, then a tampered one with the real code.
    await expectPage(await start.jar.fetch(`${env.brokerUrl}/link/callback?state=x`), 400, /did not match this link/);
    const tampered = new URL(callback);
    tampered.searchParams.set("state", `${callback.searchParams.get("state")}x`);
    await expectPage(await start.jar.fetch(tampered), 400, /did not match this link/);
    await expectPage(await start.jar.fetch(`${env.brokerUrl}/link/callback?error=access_denied&state=y`), 400, /did not match this link/);
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-tamper" } })).state).toBe("started");
    // The bank's real answer still completes the sign-in.
    const res = await start.jar.fetch(callback);
    expect(res.status).toBe(303);
    expect(res.headers.get("location")).toBe("/link/2fa");
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-tamper" } })).state).toBe("authenticated");
  });

  it("two attempts in one browser: the first one's late callback does not end the second", async () => {
    const first = await openLink(env, { clientId: client.id, psid: "psid-two-a" });
    const firstCallback = await bankLogin(env, first.jar, first.response.headers.get("location")!);
    // The same browser starts again before finishing: its cookie now holds the second attempt.
    const second = await openLink(env, { clientId: client.id, psid: "psid-two-b", jar: first.jar });
    // (Its bank sign-in in a jar of its own, so the bank asks again rather than reusing its session.)
    const secondCallback = await bankLogin(env, new CookieJar(), second.response.headers.get("location")!);
    await expectPage(await first.jar.fetch(firstCallback), 400, /did not match this link/);
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-two-b" } })).state).toBe("started");
    expect((await first.jar.fetch(secondCallback)).status).toBe(303);
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-two-b" } })).state).toBe("authenticated");
  });

  it("a callback without the attempt cookie, or with another browser's, is an error page", async () => {
    const start = await openLink(env, { clientId: client.id, psid: "psid-nocookie" });
    const callback = await bankLogin(env, start.jar, start.response.headers.get("location")!);
    await expectPage(await fetch(callback, { redirect: "manual" }), 400, /lost track of this link/);
    const other = await openLink(env, { clientId: client.id, psid: "psid-other" });
    const stolen = await fetch(callback, { redirect: "manual", headers: { cookie: other.jar.header(env.brokerUrl)! } });
    expect(stolen.status).toBe(400);
    const forged = await fetch(callback, { redirect: "manual", headers: { cookie: `lb_link=${"0".repeat(8)}-0000-0000-0000-${"0".repeat(12)}.${"A".repeat(43)}` } });
    await expectPage(forged, 400, /lost track/);
    // The right browser still finishes.
    expect((await start.jar.fetch(callback)).status).toBe(303);
  });

  it("a customer who cancels at the bank goes back to Messenger without a code", async () => {
    const start = await openLink(env, { clientId: client.id, psid: "psid-cancel" });
    const interaction = await followUntil(start.jar, start.response.headers.get("location")!, (u) => u.pathname.startsWith("/interaction/"));
    const callback = await followUntil(start.jar, interaction.href, (u) => u.href.startsWith(`${env.brokerUrl}/link/callback`), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ cancel: "1" }),
    });
    expect(callback.searchParams.get("error")).toBe("access_denied");
    const res = await start.jar.fetch(callback);
    expect(res.status).toBe(303);
    const back = new URL(res.headers.get("location")!);
    expect(back.href.startsWith(env.messengerRedirect)).toBe(true);
    expect(back.searchParams.has("authorization_code")).toBe(false);
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-cancel" } })).state).toBe("failed");
  });

  it("a forged code at the callback fails the ID token exchange with a page", async () => {
    const start = await openLink(env, { clientId: client.id, psid: "psid-forged" });
    const state = new URL(start.response.headers.get("location")!).searchParams.get("state")!;
    const res = await start.jar.fetch(`${env.brokerUrl}/link/callback?code=forged&state=${encodeURIComponent(state)}&iss=${encodeURIComponent(env.idp.issuer)}`);
    await expectPage(res, 400, /did not confirm your sign-in/);
  });

  it("discovers each bank issuer once and reuses it", async () => {
    // Self-contained: two starts of its own, whatever ran before (a start earlier in this
    // file may already have discovered the issuer; it is still one discovery in all).
    for (const psid of ["psid-disc-1", "psid-disc-2"]) expect((await openLink(env, { clientId: client.id, psid })).response.status).toBe(302);
    expect(env.idp.discoveryHits()).toBe(1);
  });

  it("a bank IdP that is down gives a friendly page", async () => {
    const jar = new CookieJar();
    const down = await env.seedClient();
    await env.db.prisma.client.update({ where: { id: down.id }, data: { bankIdpIssuer: "http://127.0.0.1:9/bank" } });
    const start = await openLink(env, { clientId: down.id, jar });
    await expectPage(start.response, 503, /bank is not answering/);
  });
});
