import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "./support/linking-env.ts";
import { bankLogin, csrfOf, driveLinkFlow, openLink, postForm, totpCode, totpSecretOf } from "./support/link-flow.ts";

describe("linking flow: /link → bank login → TOTP → consent", () => {
  let env: LinkingEnv;
  let client: SeededClient;
  beforeAll(async () => {
    env = await startLinkingEnv();
    client = await env.seedClient({ name: "Demo Bank" });
  });
  afterAll(() => env?.close());

  it("links: approve gives Messenger an authorization_code appended to a redirect_uri that has a query", async () => {
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-happy" });
    expect(result.last.status).toBe(303);
    expect(result.finalLocation!.origin + result.finalLocation!.pathname).toBe(env.messengerRedirect);
    expect(result.finalLocation!.searchParams.get("psid_hint")).toBe("1");
    expect(result.authorizationCode).toBe(env.fakes.oauth.codes.at(-1)!.code);

    const attempt = await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-happy" } });
    expect(attempt.state).toBe("code_issued");
    expect(attempt.bankSubject).toBe("cust-alice-001");
    const link = await env.db.prisma.link.findFirstOrThrow({ where: { psid: "psid-happy" } });
    expect(link).toMatchObject({ clientId: client.id, subject: "cust-alice-001", status: "active" });
    const grant = env.fakes.ledger.grants.at(-1)!;
    expect(grant).toMatchObject({ clientId: client.id, subject: "cust-alice-001", linkId: link.id, psid: "psid-happy", scopes: ["balance:read", "alerts:fraud"], purposes: ["account_servicing", "fraud_alerts"], actor: "customer" });
    expect(grant.evidence).toMatchObject({ second_factor: "totp", request_id: expect.any(String) });
    expect(link.consentId).toBe(grant.consentId);
    expect(env.fakes.oauth.codes.at(-1)).toMatchObject({ linkId: link.id, attemptId: attempt.id, consentId: grant.consentId, subject: "cust-alice-001" });
    // The TOTP secret is sealed at rest.
    const factor = await env.db.prisma.totpFactor.findFirstOrThrow({ where: { clientId: client.id, subject: "cust-alice-001" } });
    expect(factor.secretSealed).not.toContain(result.totpSecret!);
    expect(factor.confirmedAt).not.toBeNull();
  });

  it("uses the PAR request of a client that requires it, once", async () => {
    const parClient = await env.seedClient({ requirePar: true });
    const requestUri = env.fakes.oauth.push(parClient.id, { scopes: ["transactions:read"], purposes: ["account_servicing"], consentDurationDays: 7 });
    const result = await driveLinkFlow(env, { clientId: parClient.id, params: { request_uri: requestUri }, username: "bob" });
    expect(result.authorizationCode).toBeTruthy();
    expect(env.fakes.ledger.grants.at(-1)).toMatchObject({ clientId: parClient.id, scopes: ["transactions:read"] });
    const again = await openLink(env, { clientId: parClient.id, params: { request_uri: requestUri } });
    expect(again.response.status).toBe(400);
    expect(again.response.headers.get("location")).toBeNull();
    const plain = await openLink(env, { clientId: parClient.id });
    expect(plain.response.status).toBe(400);
    expect(await plain.response.text()).toContain("pushed authorization request");
  });

  it("re-linking the same customer and PSID renews the link's consent, no duplicate link", async () => {
    env.clock.advance(60_000); // a new TOTP time step
    const first = await driveLinkFlow(env, { clientId: client.id, psid: "psid-relink", username: "bob" });
    expect(first.authorizationCode).toBeTruthy();
    env.clock.advance(60_000);
    const second = await driveLinkFlow(env, { clientId: client.id, psid: "psid-relink", username: "bob" });
    expect(second.authorizationCode).toBeTruthy();
    expect(second.authorizationCode).not.toBe(first.authorizationCode);
    const links = await env.db.prisma.link.findMany({ where: { psid: "psid-relink" } });
    expect(links).toHaveLength(1);
    expect(env.fakes.ledger.renewals.at(-1)).toMatchObject({ consentId: links[0]!.consentId });
  });

  it("deny: 303 to redirect_uri without a code, attempt declined, no link", async () => {
    env.clock.advance(60_000);
    const codesBefore = env.fakes.oauth.codes.length;
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-deny", decision: "deny" });
    expect(result.last.status).toBe(303);
    expect(result.finalLocation!.searchParams.has("authorization_code")).toBe(false);
    expect(result.finalLocation!.searchParams.get("psid_hint")).toBe("1");
    expect(env.fakes.oauth.codes.length).toBe(codesBefore);
    const attempt = await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-deny" } });
    expect(attempt.state).toBe("declined");
    expect(await env.db.prisma.link.count({ where: { psid: "psid-deny" } })).toBe(0);
  });

  it("a consumed attempt cannot mint a second code", async () => {
    env.clock.advance(60_000);
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-once", stopAt: "consent" });
    const csrf = csrfOf(await result.last.text());
    // The browser drops the cleared cookie after the redirect; an attacker replaying keeps it.
    const cookie = result.jar.header(env.brokerUrl)!;
    const first = await postForm(result.jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf });
    expect(first.status).toBe(303);
    const codes = env.fakes.oauth.codes.length;
    const replay = await fetch(`${env.brokerUrl}/link/consent`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: new URLSearchParams({ decision: "approve", csrf }),
    });
    expect(replay.status).toBe(409);
    expect(replay.headers.get("location")).toBeNull();
    expect(env.fakes.oauth.codes.length).toBe(codes);
  });

  it("two concurrent approvals of one attempt mint exactly one code", async () => {
    env.clock.advance(60_000);
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-race", stopAt: "consent" });
    const csrf = csrfOf(await result.last.text());
    const cookie = result.jar.header(env.brokerUrl)!;
    const codes = env.fakes.oauth.codes.length;
    const approve = () =>
      fetch(`${env.brokerUrl}/link/consent`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie }, body: new URLSearchParams({ decision: "approve", csrf }) });
    const statuses = (await Promise.all([approve(), approve(), approve()])).map((r) => r.status).sort();
    expect(statuses).toEqual([303, 409, 409]);
    expect(env.fakes.oauth.codes.length).toBe(codes + 1);
    expect(await env.db.prisma.authorizationCode.count({ where: { attemptId: (await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-race" } })).id } })).toBe(1);
  });

  it("refuses the consent step before the second factor", async () => {
    const start = await openLink(env, { clientId: client.id, psid: "psid-skip" });
    const callback = await bankLogin(env, start.jar, start.response.headers.get("location")!);
    expect((await start.jar.fetch(callback)).status).toBe(303);
    const consent = await start.jar.fetch(`${env.brokerUrl}/link/consent`);
    expect(consent.status).toBe(409);
    expect(consent.headers.get("content-type")).toMatch(/text\/html/);
    const twoFa = await start.jar.fetch(`${env.brokerUrl}/link/2fa`);
    const csrf = csrfOf(await twoFa.text());
    const post = await postForm(start.jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf });
    expect([403, 409]).toContain(post.status);
    const attempt = await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-skip" } });
    expect(attempt.state).toBe("authenticated");
  });

  it("expires attempts after 10 minutes", async () => {
    const start = await openLink(env, { clientId: client.id, psid: "psid-late" });
    const callback = await bankLogin(env, start.jar, start.response.headers.get("location")!);
    env.clock.advance(11 * 60_000);
    const late = await start.jar.fetch(callback);
    expect(late.status).toBe(400);
    const body = await late.text();
    expect(body).toContain("expired");
    expect(body).toContain("Return to Messenger");
    // Housekeeping (a scheduler task) records the expiry.
    await env.broker.modules.scheduler.run("linking.expire-attempts");
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-late" } })).state).toBe("expired");
  });

  it("the enrolment page shows a QR image and the otpauth URI as text, with a labelled field", async () => {
    const result = await driveLinkFlow(env, { clientId: client.id, username: "carol-unknown", stopAt: "second_factor" }).catch((e) => e);
    // Unknown bank users cannot sign in: the bank login stops at the IdP.
    expect(result).toBeInstanceOf(Error);
    env.clock.advance(60_000);
    await env.db.prisma.totpFactor.deleteMany({ where: { subject: "cust-bob-002" } });
    const fresh = await driveLinkFlow(env, { clientId: client.id, username: "bob", stopAt: "second_factor" });
    const html = await fresh.last.text();
    expect(fresh.last.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(html).toMatch(/<img class="qr" src="data:image\/png;base64,/);
    expect(html).toMatch(/otpauth:\/\/totp\/Demo%20Bank/);
    expect(totpSecretOf(html)).toMatch(/^[A-Z2-7]{32}$/);
    expect(html).toMatch(/<label for="code">/);
    expect(html).not.toMatch(/<script/i);
    void totpCode;
  });
});
