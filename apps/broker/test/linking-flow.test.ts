import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLinkingEnv, type LinkingEnv, type RegisteredBank } from "./support/linking-env.ts";
import { bankLogin, csrfOf, driveLinkFlow, openLink, PLAIN_PARAMS, PLAIN_VERIFIER, postForm, totpCode, totpSecretOf } from "./support/link-flow.ts";
import { basic, postForm as postOAuthForm } from "./support/oauth.ts";

/** The whole flow on the broker's own OAuth server and consent ledger; only Graph and the bank are stand-ins. */
describe("linking flow: /link → bank login → TOTP → consent", () => {
  let env: LinkingEnv;
  let client: RegisteredBank & { id: string };
  beforeAll(async () => {
    env = await startLinkingEnv();
    const bank = await env.registerBank({ name: "Demo Bank", metadata: { require_pushed_authorization_requests: false } });
    client = { ...bank, id: bank.client_id };
  });
  afterAll(() => env?.close());

  const ledger = () => env.broker.modules.ledger.ledger;
  const exchange = (bank: RegisteredBank, code: string, verifier = PLAIN_VERIFIER) =>
    postOAuthForm(`${env.brokerUrl}/oauth/token`, { grant_type: "authorization_code", code, code_verifier: verifier }, { authorization: basic(bank.client_id, bank.client_secret) });
  const codesOf = (clientId: string) => env.db.prisma.authorizationCode.count({ where: { clientId } });

  it("links: approve gives Messenger an authorization_code appended to a redirect_uri that has a query", async () => {
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-happy" });
    expect(result.last.status).toBe(303);
    expect(result.finalLocation!.origin + result.finalLocation!.pathname).toBe(env.messengerRedirect);
    expect(result.finalLocation!.searchParams.get("psid_hint")).toBe("1");

    const attempt = await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-happy" } });
    expect(attempt.state).toBe("code_issued");
    // The attempt names the link it made, for tracing one from the other.
    expect(attempt.linkId).toBe((await env.db.prisma.link.findFirstOrThrow({ where: { psid: "psid-happy" } })).id);
    expect(attempt.bankSubject).toBe("cust-alice-001");
    const link = await env.db.prisma.link.findFirstOrThrow({ where: { psid: "psid-happy" } });
    expect(link).toMatchObject({ clientId: client.id, subject: "cust-alice-001", status: "active" });
    // The ledger recorded exactly what the customer approved, with the second factor as evidence.
    const { consent, entries } = await ledger().get(link.consentId!);
    expect(consent).toMatchObject({ clientId: client.id, subject: "cust-alice-001", linkId: link.id, psid: "psid-happy", status: "active", scopes: ["alerts:fraud", "balance:read"], purposes: ["account_servicing", "fraud_alerts"] });
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({ action: "granted", actor: "customer", evidence: { second_factor: "totp", second_factor_at: attempt.secondFactorAt!.toISOString(), request_id: expect.any(String), attempt_id: attempt.id } });
    // The bank exchanges the code for tokens bound to that link and consent.
    const tokens = await exchange(client, result.authorizationCode!);
    expect(tokens.status).toBe(200);
    expect(tokens.json.scope).toBe("balance:read alerts:fraud");
    const claims = JSON.parse(Buffer.from(String(tokens.json.access_token).split(".")[1]!, "base64url").toString());
    expect(claims).toMatchObject({ sub: "cust-alice-001", client_id: client.id, link_id: link.id, consent_id: link.consentId });
    // The TOTP secret is sealed at rest.
    const factor = await env.db.prisma.totpFactor.findFirstOrThrow({ where: { clientId: client.id, subject: "cust-alice-001" } });
    expect(factor.secretSealed).not.toContain(result.totpSecret!);
    expect(factor.confirmedAt).not.toBeNull();
  });

  it("uses the PAR request of a client that requires it, once", async () => {
    const parBank = await env.registerBank();
    const verifier = "par-test-code-verifier-0123456789-abcdefghijklmnop";
    const challenge = (await import("node:crypto")).createHash("sha256").update(verifier).digest("base64url");
    const pushed = await postOAuthForm(
      `${env.brokerUrl}/par`,
      { scope: "transactions:read", code_challenge: challenge, code_challenge_method: "S256", consent_duration_days: "7" },
      { authorization: basic(parBank.client_id, parBank.client_secret) },
    );
    expect(pushed.status).toBe(201);
    const requestUri = pushed.json.request_uri as string;
    const result = await driveLinkFlow(env, { clientId: parBank.client_id, params: { request_uri: requestUri }, username: "bob" });
    expect(result.authorizationCode).toBeTruthy();
    const link = await env.db.prisma.link.findFirstOrThrow({ where: { clientId: parBank.client_id } });
    expect((await ledger().get(link.consentId!)).consent).toMatchObject({ clientId: parBank.client_id, scopes: ["transactions:read"], purposes: ["account_servicing"] });
    expect((await exchange(parBank, result.authorizationCode!, verifier)).json.scope).toBe("transactions:read");
    const again = await openLink(env, { clientId: parBank.client_id, params: { request_uri: requestUri } });
    expect(again.response.status).toBe(400);
    expect(again.response.headers.get("location")).toBeNull();
    const plain = await openLink(env, { clientId: parBank.client_id });
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
    const { consent, entries } = await ledger().get(links[0]!.consentId!);
    expect(consent.status).toBe("active");
    expect(entries.map((e) => e.action)).toEqual(["granted", "renewed"]);
    expect(await env.db.prisma.consent.count({ where: { linkId: links[0]!.id } })).toBe(1);
  });

  it("re-linking after an unlink records a new consent; the withdrawn one stays withdrawn", async () => {
    env.clock.advance(60_000);
    await driveLinkFlow(env, { clientId: client.id, psid: "psid-after-unlink", username: "bob" });
    const link = await env.db.prisma.link.findFirstOrThrow({ where: { psid: "psid-after-unlink" } });
    const withdrawn = link.consentId!;
    expect(await env.broker.modules.links.service.unlink(link.id, { actor: "bank", reason: "customer asked the bank", notifyMessenger: false })).toMatchObject({ status: "unlinked" });
    env.clock.advance(60_000);
    const again = await driveLinkFlow(env, { clientId: client.id, psid: "psid-after-unlink", username: "bob" });
    expect(again.authorizationCode).toBeTruthy();
    const relinked = await env.db.prisma.link.findFirstOrThrow({ where: { psid: "psid-after-unlink" } });
    expect(relinked).toMatchObject({ id: link.id, status: "active" });
    expect(relinked.consentId).not.toBe(withdrawn);
    expect((await ledger().get(withdrawn)).consent.status).toBe("withdrawn");
    const { consent, entries } = await ledger().get(relinked.consentId!);
    expect(consent.status).toBe("active");
    expect(entries.map((e) => e.action)).toEqual(["granted"]);
  });

  it("an approval that fails part-way records nothing: no consent, no renewal, no link change", async () => {
    // The code cannot be written (a trigger stands in for any failure after the ledger's entry):
    // the ledger's grant or renewal must roll back with the rest of the approval.
    const fail = async <T>(run: () => Promise<T>) => {
      await env.db.adminQuery(`CREATE FUNCTION lb_test_refuse_code() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$;
        CREATE TRIGGER lb_test_refuse_code BEFORE INSERT ON authorization_code FOR EACH ROW EXECUTE FUNCTION lb_test_refuse_code();`);
      try {
        return await run();
      } finally {
        await env.db.adminQuery("DROP TRIGGER lb_test_refuse_code ON authorization_code; DROP FUNCTION lb_test_refuse_code();");
      }
    };
    const entriesNow = () => env.db.prisma.ledgerEntry.count();
    // A first link: the grant must not stay behind.
    env.clock.advance(60_000);
    const before = await entriesNow();
    const first = await fail(() => driveLinkFlow(env, { clientId: client.id, psid: "psid-half-approved", username: "bob" }));
    expect(first.authorizationCode).toBeUndefined();
    expect(first.last.status).toBeGreaterThanOrEqual(400);
    expect(await entriesNow()).toBe(before);
    expect(await env.db.prisma.link.count({ where: { psid: "psid-half-approved" } })).toBe(0);
    // A re-link of a live link: the renewal must not stay behind either.
    env.clock.advance(60_000);
    await driveLinkFlow(env, { clientId: client.id, psid: "psid-half-approved", username: "bob" });
    const link = await env.db.prisma.link.findFirstOrThrow({ where: { psid: "psid-half-approved" } });
    const { consent } = await ledger().get(link.consentId!);
    env.clock.advance(60_000);
    const after = await entriesNow();
    await fail(() => driveLinkFlow(env, { clientId: client.id, psid: "psid-half-approved", username: "bob" }));
    expect(await entriesNow()).toBe(after);
    expect((await ledger().get(link.consentId!)).consent.expiresAt).toEqual(consent.expiresAt);
  });

  it("deny: 303 to redirect_uri without a code, attempt declined, no link, nothing in the ledger", async () => {
    env.clock.advance(60_000);
    const codesBefore = await codesOf(client.id);
    const entriesBefore = await env.db.prisma.ledgerEntry.count();
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-deny", decision: "deny" });
    expect(result.last.status).toBe(303);
    expect(result.finalLocation!.searchParams.has("authorization_code")).toBe(false);
    expect(result.finalLocation!.searchParams.get("psid_hint")).toBe("1");
    expect(await codesOf(client.id)).toBe(codesBefore);
    expect(await env.db.prisma.ledgerEntry.count()).toBe(entriesBefore);
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
    const codes = await codesOf(client.id);
    const entries = await env.db.prisma.ledgerEntry.count();
    const replay = await fetch(`${env.brokerUrl}/link/consent`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie },
      body: new URLSearchParams({ decision: "approve", csrf }),
    });
    expect(replay.status).toBe(409);
    expect(replay.headers.get("location")).toBeNull();
    expect(await codesOf(client.id)).toBe(codes);
    expect(await env.db.prisma.ledgerEntry.count()).toBe(entries);
  });

  it("two concurrent approvals of one attempt mint exactly one code and one ledger entry", async () => {
    env.clock.advance(60_000);
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-race", stopAt: "consent" });
    const csrf = csrfOf(await result.last.text());
    const cookie = result.jar.header(env.brokerUrl)!;
    const entries = await env.db.prisma.ledgerEntry.count();
    const approve = () =>
      fetch(`${env.brokerUrl}/link/consent`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie }, body: new URLSearchParams({ decision: "approve", csrf }) });
    const statuses = (await Promise.all([approve(), approve(), approve()])).map((r) => r.status).sort();
    expect(statuses).toEqual([303, 409, 409]);
    expect(await env.db.prisma.authorizationCode.count({ where: { attemptId: (await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-race" } })).id } })).toBe(1);
    expect(await env.db.prisma.ledgerEntry.count()).toBe(entries + 1);
  });

  it("two concurrent refusals of one attempt: one ends it, the others are told it already ended", async () => {
    env.clock.advance(60_000);
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-race-deny", stopAt: "consent" });
    const csrf = csrfOf(await result.last.text());
    const cookie = result.jar.header(env.brokerUrl)!;
    const deny = () =>
      fetch(`${env.brokerUrl}/link/consent`, { method: "POST", redirect: "manual", headers: { "content-type": "application/x-www-form-urlencoded", cookie }, body: new URLSearchParams({ decision: "deny", csrf }) });
    const statuses = (await Promise.all([deny(), deny(), deny()])).map((r) => r.status).sort();
    expect(statuses).toEqual([303, 409, 409]);
    expect((await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-race-deny" } })).state).toBe("declined");
  });

  it("the consent page says what the bank may do, for what, how long, and that it is never for advertising", async () => {
    env.clock.advance(60_000);
    const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-page", stopAt: "consent", params: { scope: "balance:read alerts:fraud", code_challenge: PLAIN_PARAMS.code_challenge, code_challenge_method: "S256", consent_duration_days: "30" } });
    expect(result.last.status).toBe(200);
    expect(result.last.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(result.last.headers.get("x-frame-options")).toBe("DENY");
    const text = (await result.last.text()).replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
    expect(text).toContain("Link your Demo Bank account to Messenger?");
    // Exactly the asked scopes, in words, each with its purpose.
    expect(text).toContain("See your account balances");
    expect(text).toContain("Send you fraud alerts");
    expect(text).not.toContain("See your recent transactions");
    expect(text).not.toContain("Help you in the support chat");
    expect(text).toContain("Servicing your account");
    expect(text).toContain("Warning you about possible fraud");
    // How long, to the day, from the broker's clock.
    const until = new Date(env.clock.now().getTime() + 30 * 86_400_000).toISOString().slice(0, 10);
    expect(text).toContain(`For 30 days (until ${until}), unless you unlink sooner.`);
    expect(text).toContain("Your linked data is never used for advertising.");
    expect(text).toMatch(/Allow and link.*Don't link/);
  });

  describe("optional scopes (granular consent)", () => {
    const GRANULAR = { scope: "balance:read", optional_scope: "alerts:fraud support:chat", code_challenge: PLAIN_PARAMS.code_challenge, code_challenge_method: "S256" };
    const pairsOf = async (psid: string) => {
      const link = await env.db.prisma.link.findFirstOrThrow({ where: { psid, status: "active" } });
      return { link, consent: (await ledger().get(link.consentId!)).consent };
    };

    it("shows required scopes fixed and optional ones unticked, each with its purpose in words", async () => {
      env.clock.advance(60_000);
      const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-optional-page", stopAt: "consent", params: GRANULAR });
      const html = await result.last.text();
      const boxes = [...html.matchAll(/<input type="checkbox"[^>]*>/g)].map((m) => m[0]);
      expect(boxes).toEqual(['<input type="checkbox" name="scope" value="alerts:fraud">', '<input type="checkbox" name="scope" value="support:chat">']);
      const text = html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ");
      expect(text).toMatch(/will be able to: See your account balances \(purpose: Servicing your account\) If you want, also allow it to: Send you fraud alerts \(purpose: Warning you about possible fraud\) Help you in the support chat \(purpose: Answering your support questions\)/);
    });

    it("grants exactly the required pairs and the ticked ones; the tokens carry exactly those scopes", async () => {
      env.clock.advance(60_000);
      const result = await driveLinkFlow(env, { clientId: client.id, psid: "psid-optional", username: "bob", params: GRANULAR, ticked: ["alerts:fraud"] });
      expect(result.authorizationCode).toBeTruthy();
      const { consent } = await pairsOf("psid-optional");
      expect(consent.pairs).toEqual([
        { scope: "alerts:fraud", purpose: "fraud_alerts" },
        { scope: "balance:read", purpose: "account_servicing" },
      ]);
      const tokens = await exchange(client, result.authorizationCode!);
      expect(tokens.json.scope).toBe("balance:read alerts:fraud");
      const refreshed = await postOAuthForm(`${env.brokerUrl}/oauth/token`, { grant_type: "refresh_token", refresh_token: String(tokens.json.refresh_token) }, { authorization: basic(client.client_id, client.client_secret) });
      expect(refreshed.json.scope).toBe("balance:read alerts:fraud");
      const claims = JSON.parse(Buffer.from(String(refreshed.json.access_token).split(".")[1]!, "base64url").toString());
      expect(claims.scope).toBe("balance:read alerts:fraud");
      const check = (scope: string, purpose: string) => ledger().check({ linkId: consent.linkId! }, { scope, purpose });
      expect((await check("alerts:fraud", "fraud_alerts")).allowed).toBe(true);
      expect((await check("support:chat", "customer_support")).reason).toBe("scope_not_granted");
      expect((await check("balance:read", "fraud_alerts")).reason).toBe("scope_not_granted");
    });

    it("nothing ticked grants the required scopes only; re-linking on the same terms renews, other terms replace", async () => {
      env.clock.advance(60_000);
      const first = await driveLinkFlow(env, { clientId: client.id, psid: "psid-relink-optional", username: "bob", params: GRANULAR });
      const before = await pairsOf("psid-relink-optional");
      expect(before.consent.pairs).toEqual([{ scope: "balance:read", purpose: "account_servicing" }]);
      expect((await exchange(client, first.authorizationCode!)).json.scope).toBe("balance:read");
      env.clock.advance(60_000);
      await driveLinkFlow(env, { clientId: client.id, psid: "psid-relink-optional", username: "bob", params: GRANULAR });
      const renewed = await pairsOf("psid-relink-optional");
      expect(renewed.consent.id).toBe(before.consent.id);
      env.clock.advance(60_000);
      await driveLinkFlow(env, { clientId: client.id, psid: "psid-relink-optional", username: "bob", params: GRANULAR, ticked: ["support:chat"] });
      const replaced = await pairsOf("psid-relink-optional");
      expect(replaced.consent.id).not.toBe(before.consent.id);
      expect(replaced.consent.pairs).toEqual([
        { scope: "balance:read", purpose: "account_servicing" },
        { scope: "support:chat", purpose: "customer_support" },
      ]);
      expect((await ledger().get(before.consent.id)).consent.status).toBe("withdrawn");
    });

    it("refuses a ticked scope that was not offered: an error page, nothing recorded", async () => {
      env.clock.advance(60_000);
      const entries = await env.db.prisma.ledgerEntry.count();
      const codes = await codesOf(client.id);
      for (const forged of [["transactions:read"], ["balance:read"], ["alerts:fraud", "ledger:check"]]) {
        const result = await driveLinkFlow(env, { clientId: client.id, psid: `psid-forged-${forged.length}-${forged[0]}`, username: "alice", params: GRANULAR, ticked: forged });
        expect(result.last.status).toBe(400);
        expect(await result.last.text()).toContain("did not offer");
        expect(result.authorizationCode).toBeUndefined();
        env.clock.advance(60_000);
      }
      expect(await env.db.prisma.ledgerEntry.count()).toBe(entries);
      expect(await codesOf(client.id)).toBe(codes);
      expect(await env.db.prisma.link.count({ where: { psid: { startsWith: "psid-forged-" } } })).toBe(0);
    });

    it("validates optional_scope like scope, at /par and on a plain /link", async () => {
      for (const [optional, why] of [
        ["balance:read", /both scope and optional_scope/],
        ["ledger:check", /service scope/],
        ["balance:write", /unknown scope/],
      ] as const) {
        const pushed = await postOAuthForm(`${env.brokerUrl}/par`, { ...GRANULAR, optional_scope: optional }, { authorization: basic(client.client_id, client.client_secret) });
        expect(pushed.status).toBe(400);
        expect(pushed.json).toMatchObject({ error: "invalid_scope", error_description: expect.stringMatching(why) });
        const plain = await openLink(env, { clientId: client.id, params: { ...GRANULAR, optional_scope: optional } });
        expect(plain.response.status).toBe(400);
        expect(await plain.response.text()).toMatch(why);
      }
      // A purpose only an optional scope serves is fine; one no scope serves is refused.
      const ok = await postOAuthForm(`${env.brokerUrl}/par`, { ...GRANULAR, purpose: "account_servicing fraud_alerts customer_support" }, { authorization: basic(client.client_id, client.client_secret) });
      expect(ok.status).toBe(201);
      const unpaired = await postOAuthForm(`${env.brokerUrl}/par`, { ...GRANULAR, purpose: "account_servicing transaction_notifications" }, { authorization: basic(client.client_id, client.client_secret) });
      expect(unpaired.status).toBe(400);
    });
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
    // The second-factor page's token is not a consent token: refused before any state is read.
    const post = await postForm(start.jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf });
    expect(post.status).toBe(403);
    expect(post.headers.get("content-type")).toMatch(/text\/html/);
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
    // Unknown bank users cannot sign in: the bank login stops at the IdP, and the broker never sees a callback.
    expect(result).toBeInstanceOf(Error);
    expect((result as Error).message).toMatch(/got 401: wrong username or password/);
    env.clock.advance(60_000);
    await env.db.prisma.totpFactor.deleteMany({ where: { subject: "cust-bob-002" } });
    const fresh = await driveLinkFlow(env, { clientId: client.id, username: "bob", stopAt: "second_factor" });
    const html = await fresh.last.text();
    expect(fresh.last.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(html).toMatch(/<img class="qr" src="data:image\/svg\+xml;base64,/);
    expect(html).toMatch(/otpauth:\/\/totp\/Demo%20Bank/);
    expect(totpSecretOf(html)).toMatch(/^[A-Z2-7]{32}$/);
    expect(html).toMatch(/<label for="code">/);
    expect(html).not.toMatch(/<script/i);
    void totpCode;
  });
});
