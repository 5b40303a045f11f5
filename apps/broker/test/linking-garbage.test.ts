import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CookieJar } from "./support/cookie-jar.ts";
import { bankLogin, csrfOf, driveLinkFlow, openLink, PLAIN_PARAMS } from "./support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "./support/linking-env.ts";

/** Every page and form fed garbage answers a 4xx page: never a 5xx, never a redirect elsewhere. */
describe("linking pages fed garbage", () => {
  let env: LinkingEnv;
  let client: SeededClient;
  let authenticatedJar: CookieJar;
  let consentJar: CookieJar;
  let consentCsrf: string;
  beforeAll(async () => {
    env = await startLinkingEnv({ deps: "real" });
    client = await env.seedClient();
    const start = await openLink(env, { clientId: client.id, psid: "psid-g1" });
    const callback = await bankLogin(env, start.jar, start.response.headers.get("location")!);
    await start.jar.fetch(callback);
    authenticatedJar = start.jar;
    const atConsent = await driveLinkFlow(env, { clientId: client.id, psid: "psid-g2", username: "bob", stopAt: "consent" });
    consentJar = atConsent.jar;
    consentCsrf = csrfOf(await atConsent.last.text());
  });
  afterAll(() => env?.close());

  async function expect4xxPage(response: Response, label: string) {
    expect(response.status, label).toBeGreaterThanOrEqual(400);
    expect(response.status, label).toBeLessThan(500);
    expect(response.headers.get("content-type"), label).toMatch(/^text\/html/);
    expect(response.headers.get("location"), label).toBeNull();
    const body = await response.text();
    expect(body, label).not.toMatch(/<script|stack|\.ts:\d+/i);
  }

  const long = "x".repeat(5000);
  const odd = ["%00", "%ff%fe", "<script>alert(1)</script>", "'\"><img src=x>", "🙂", long];

  it("GET /link with missing, oversized, repeated and odd parameters", async () => {
    const base = { client_id: client.id, ...PLAIN_PARAMS, account_linking_token: env.graph.issueToken("p"), redirect_uri: env.messengerRedirect };
    const cases: string[] = [
      "",
      "client_id=",
      `client_id=${long}`,
      `client_id=${client.id}&client_id=${client.id}`,
      ...Object.keys(base).flatMap((k) => odd.map((v) => new URLSearchParams({ ...base, [k]: v }).toString().replace(encodeURIComponent(v), v))),
      new URLSearchParams({ ...base, account_linking_token: long }).toString(),
      new URLSearchParams({ ...base, request_uri: "urn:ietf:params:oauth:request_uri:nope" }).toString(),
      new URLSearchParams({ ...base, consent_duration_days: "1e3" }).toString(),
      `${new URLSearchParams(base)}&scope=balance:read`,
    ];
    for (const query of cases) {
      const res = await fetch(`${env.brokerUrl}/link?${query}`, { redirect: "manual" });
      if (res.status === 302) {
        // Only a fully valid request reaches the bank IdP.
        expect(new URL(res.headers.get("location")!).origin).toBe(env.idp.issuer);
        continue;
      }
      await expect4xxPage(res, query.slice(0, 80));
    }
  });

  it("an escaped page never reflects markup", async () => {
    const res = await fetch(`${env.brokerUrl}/link?client_id=%3Cscript%3E`, { redirect: "manual" });
    expect(await res.text()).not.toContain("<script>");
  });

  it("GET /link/callback with junk", async () => {
    for (const query of ["", "code=x", "state=x", `state=${long}&code=${long}`, "error=%3Cb%3E", "state=%ff"]) {
      await expect4xxPage(await fetch(`${env.brokerUrl}/link/callback?${query}`, { redirect: "manual" }), `no cookie ${query.slice(0, 30)}`);
    }
    for (const cookie of ["lb_link=", "lb_link=garbage", `lb_link=${long}`, "lb_link=%ff%00", "lb_link=a.b.c"]) {
      await expect4xxPage(await fetch(`${env.brokerUrl}/link/callback?code=x&state=y`, { redirect: "manual", headers: { cookie } }), cookie.slice(0, 30));
    }
  });

  it("POST /link/2fa and /link/consent with junk bodies, types and cookies", async () => {
    const bodies: [string, string][] = [
      ["application/x-www-form-urlencoded", ""],
      ["application/x-www-form-urlencoded", "code=%ff%fe&csrf=%00"],
      ["application/x-www-form-urlencoded", `code=${long}&csrf=${long}`],
      ["application/x-www-form-urlencoded", "code=1&code=2&csrf=a&csrf=b"],
      ["application/x-www-form-urlencoded", "decision=maybe&csrf=x"],
      ["application/json", '{"code":"123456"}'],
      ["application/json", "{bad json"],
      ["text/plain", "hello"],
      ["multipart/form-data; boundary=x", "--x--"],
      ["application/x-www-form-urlencoded", "a=".padEnd(70 * 1024, "a")],
    ];
    for (const path of ["/link/2fa", "/link/consent"]) {
      for (const jar of [new CookieJar(), authenticatedJar, consentJar]) {
        for (const [type, body] of bodies) {
          const res = await jar.fetch(`${env.brokerUrl}${path}`, { method: "POST", headers: { "content-type": type }, body });
          await expect4xxPage(res, `${path} ${type} ${body.slice(0, 30)}`);
        }
      }
    }
    // A right CSRF with a wrong decision is still a 4xx page, and the attempt is untouched.
    const res = await consentJar.fetch(`${env.brokerUrl}/link/consent`, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams({ decision: "yes", csrf: consentCsrf }) });
    await expect4xxPage(res, "decision=yes");
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-g2" } })).state).toBe("second_factor_passed");
  });

  it("GET pages out of order and wrong methods", async () => {
    for (const path of ["/link/2fa", "/link/consent"]) {
      await expect4xxPage(await fetch(`${env.brokerUrl}${path}`, { redirect: "manual" }), `${path} without cookie`);
    }
    await expect4xxPage(await consentJar.fetch(`${env.brokerUrl}/link/2fa`), "2fa after it passed");
    await expect4xxPage(await authenticatedJar.fetch(`${env.brokerUrl}/link/consent`), "consent before 2fa");
    for (const [method, path] of [["POST", "/link"], ["PUT", "/link/2fa"], ["DELETE", "/link/consent"], ["PATCH", "/link/callback"], ["POST", "/link/callback"]] as const) {
      const res = await fetch(`${env.brokerUrl}${path}`, { method, redirect: "manual" });
      await expect4xxPage(res, `${method} ${path}`);
      expect(res.status).toBe(405);
    }
  });
});
