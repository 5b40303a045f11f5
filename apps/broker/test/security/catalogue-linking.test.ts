// Attack catalogue: the /link flow in a browser (cookie jar over real HTTP, the real bank IdP).
// Each test is one attack and the refusal the broker must answer.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CookieJar } from "../support/cookie-jar.ts";
import { bankLogin, csrfOf, driveLinkFlow, linkUrl, openLink, PLAIN_PARAMS, postForm } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "../support/linking-env.ts";

let env: LinkingEnv;
let client: SeededClient;
beforeAll(async () => {
  env = await startLinkingEnv();
  client = await env.seedClient({ name: `Bank <img src=x onerror="alert(1)"> & Co` });
});
afterAll(() => env?.close());

/** Opens /link in a fresh browser and signs in at the bank; answers the jar and the callback URL. */
async function signedIn(psid: string, username = "alice") {
  const start = await openLink(env, { clientId: client.id, psid });
  expect(start.response.status).toBe(302);
  return { jar: start.jar, callback: await bankLogin(env, start.jar, start.response.headers.get("location")!, username), psid };
}
const attemptOf = (psid: string) => env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid } });

describe("redirects", () => {
  it("attack: open redirect and prefix tricks on redirect_uri → an error page, never a redirect there", async () => {
    const base = new URL(env.messengerRedirect);
    for (const evil of [
      `${env.messengerRedirect}.evil.example`,
      `${base.origin}${base.pathname}_evil`,
      `${base.protocol}//${base.host}@evil.example${base.pathname}`,
      `${base.origin}/%2e%2e/evil${base.pathname}`,
      `https://evil.example/?next=${encodeURIComponent(env.messengerRedirect)}`,
      `//evil.example${base.pathname}`,
    ]) {
      const res = await fetch(linkUrl(env, { client_id: client.id, ...PLAIN_PARAMS, account_linking_token: env.graph.issueToken("psid-r"), redirect_uri: evil }), { redirect: "manual" });
      expect(res.status, evil).toBe(400);
      expect(res.headers.get("location")).toBeNull();
      expect(await res.text()).not.toContain("evil.example");
    }
  });
});

describe("linking", () => {
  // A stray answer is refused but does not end the attempt: otherwise anyone could cancel a
  // customer's link by sending their browser a callback with any state.
  it("attack: state CSRF (the bank's answer with a missing or another state) → refused, no bank subject taken, the real answer still works", async () => {
    const { jar, callback, psid } = await signedIn("psid-state");
    for (const state of ["attacker-state", undefined]) {
      const forged = new URL(callback);
      if (state === undefined) forged.searchParams.delete("state");
      else forged.searchParams.set("state", state);
      expect((await jar.fetch(forged)).status, String(state)).toBe(400);
      const attempt = await attemptOf(psid);
      expect(attempt.state).toBe("started");
      expect(attempt.bankSubject).toBeNull();
    }
    expect((await jar.fetch(callback)).status).toBe(303);
  });

  it("attack: mix-up (the bank's answer naming another issuer) → refused, no bank subject taken", async () => {
    const { jar, callback, psid } = await signedIn("psid-mixup", "bob");
    const forged = new URL(callback);
    forged.searchParams.set("iss", "https://evil-idp.example");
    const res = await jar.fetch(forged);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    const attempt = await attemptOf(psid);
    expect(attempt.bankSubject).toBeNull();
    expect(attempt.state).not.toBe("authenticated");
  });

  it("attack: login CSRF (the attacker's own callback URL opened in the victim's browser) → refused, the victim's attempt is not touched", async () => {
    const attacker = await signedIn("psid-attacker");
    const victim = await openLink(env, { clientId: client.id, psid: "psid-victim" });
    const res = await victim.jar.fetch(attacker.callback);
    expect(res.status).toBe(400);
    expect((await attemptOf("psid-victim")).bankSubject).toBeNull();
    expect((await attemptOf("psid-attacker")).state).toBe("started");
  });

  it("attack: skipping the second factor (consent right after the bank sign-in) → refused", async () => {
    const { jar, callback, psid } = await signedIn("psid-skip");
    expect((await jar.fetch(callback)).status).toBe(303);
    expect((await jar.fetch(`${env.brokerUrl}/link/consent`)).status).toBe(409);
    const post = await postForm(jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf: "x" });
    expect(post.status).toBeGreaterThanOrEqual(400);
    expect(post.headers.get("location")).toBeNull();
    expect((await attemptOf(psid)).state).toBe("authenticated");
  });

  it("attack: a consent form posted from another page (no or a foreign CSRF token) → refused", async () => {
    const r = await driveLinkFlow(env, { clientId: client.id, psid: "psid-csrf", stopAt: "consent" });
    const page = await r.last.text();
    for (const csrf of ["", "forged", csrfOf(page).replace(/.$/, (c) => (c === "A" ? "B" : "A"))]) {
      expect((await postForm(r.jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf })).status).toBe(403);
    }
    expect((await attemptOf("psid-csrf")).state).toBe("second_factor_passed");
  });

  it("attack: HTML and script in displayed fields (the bank's name) → escaped on every page", async () => {
    const r = await driveLinkFlow(env, { clientId: client.id, psid: "psid-html", username: "bob", stopAt: "second_factor" });
    const page = await r.last.text();
    expect(page).not.toContain("<img src=x");
    expect(page).toContain("Bank &lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; Co");
    expect(r.last.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  it("attack: SQL-looking input in every /link parameter → a 4xx page, nothing stored", async () => {
    const before = await env.db.prisma.linkAttempt.count();
    const sql = `' OR '1'='1'; DROP TABLE link_attempt; --`;
    for (const name of ["client_id", "request_uri", "scope", "code_challenge", "code_challenge_method", "purpose", "consent_duration_days", "account_linking_token", "redirect_uri"]) {
      const params = { client_id: client.id, ...PLAIN_PARAMS, account_linking_token: env.graph.issueToken("psid-sql"), redirect_uri: env.messengerRedirect, [name]: sql };
      const res = await new CookieJar().fetch(linkUrl(env, params));
      expect(res.status, name).toBeGreaterThanOrEqual(400);
      expect(res.status, name).toBeLessThan(500);
    }
    expect(await env.db.prisma.linkAttempt.count()).toBe(before);
  });
});
