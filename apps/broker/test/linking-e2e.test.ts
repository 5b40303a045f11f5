import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bankApi, type BankApi } from "./support/bank-api.ts";
import { driveLinkFlow, totpSecretOf } from "./support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type RegisteredBank } from "./support/linking-env.ts";

/**
 * The whole journey over real HTTP with the broker's own OAuth server and consent ledger: a bank
 * registered through /connect/register, a real oidc-provider bank IdP, the fake Graph on loopback.
 */
describe("linking end to end (real OAuth server and ledger)", () => {
  let env: LinkingEnv;
  let bank: RegisteredBank;
  let api: BankApi;

  beforeAll(async () => {
    env = await startLinkingEnv({ deps: "real" });
    bank = await env.registerBank({ name: "Demo Bank" });
    api = bankApi(env, bank);
  });
  afterAll(() => env?.close());

  /** PAR → /link → bank login → TOTP → consent → code → token exchange. */
  async function link(options: { psid: string; username?: string; scope?: string; days?: string; decision?: "approve" | "deny" }) {
    env.clock.advance(60_000); // a fresh TOTP time step for every journey
    const { verifier, challenge } = api.pkce();
    const requestUri = await api.par({ scope: options.scope ?? "balance:read alerts:fraud", code_challenge: challenge, ...(options.days ? { consent_duration_days: options.days } : {}) });
    const flow = await driveLinkFlow(env, { clientId: bank.client_id, psid: options.psid, username: options.username, params: { request_uri: requestUri }, decision: options.decision });
    return { flow, verifier };
  }

  async function linkAndExchange(options: Parameters<typeof link>[0]) {
    const { flow, verifier } = await link(options);
    expect(flow.authorizationCode).toBeTruthy();
    const tokens = await api.exchange(flow.authorizationCode!, verifier);
    expect(tokens.status).toBe(200);
    const linkRow = await env.db.prisma.link.findFirstOrThrow({ where: { clientId: bank.client_id, psid: options.psid } });
    return { flow, verifier, link: linkRow, access: tokens.json.access_token as string, refresh: tokens.json.refresh_token as string, tokens: tokens.json };
  }

  it("PAR → /link → bank login → TOTP enrol → approve → token exchange → /ledger/check allowed", async () => {
    // Alice is new to this bank: no second factor yet, so the journey enrols one from the page's otpauth URI.
    expect(await env.db.prisma.totpFactor.count({ where: { clientId: bank.client_id } })).toBe(0);
    expect(env.totpSecrets.has(`${bank.client_id}:alice`)).toBe(false);
    const first = await linkAndExchange({ psid: "psid-happy" });
    const factor = await env.db.prisma.totpFactor.findFirstOrThrow({ where: { clientId: bank.client_id, subject: "cust-alice-001" } });
    expect(factor.confirmedAt).not.toBeNull();
    expect(first.flow.totpSecret).toBe(env.totpSecrets.get(`${bank.client_id}:alice`));

    expect(first.flow.finalLocation!.href.startsWith(env.messengerRedirect)).toBe(true);
    expect(first.tokens).toMatchObject({ token_type: expect.stringMatching(/^bearer$/i), scope: "balance:read alerts:fraud" });
    const claims = JSON.parse(Buffer.from(first.access.split(".")[1]!, "base64url").toString());
    expect(claims).toMatchObject({ sub: "cust-alice-001", client_id: bank.client_id, link_id: first.link.id, consent_id: first.link.consentId });
    expect(await api.introspect(first.access)).toMatchObject({ active: true, link_id: first.link.id });

    const check = await api.check({ link_id: first.link.id, scope: "balance:read", purpose: "account_servicing" });
    expect(check).toMatchObject({ allowed: true, reason: "active", consent_id: first.link.consentId });
    expect(await api.check({ client_id: bank.client_id, psid: "psid-happy", scope: "alerts:fraud" })).toMatchObject({ allowed: true, reason: "active" });
    expect((await api.check({ link_id: first.link.id, scope: "transactions:read" })).reason).toBe("scope_not_granted");
    const { entries } = await env.broker.modules.ledger.ledger.get(first.link.consentId!);
    expect(entries.map((e) => [e.action, e.actor])).toEqual([["granted", "customer"]]);
    expect(entries[0]!.evidence).toMatchObject({ second_factor: "totp" });

    // The refresh token works while the consent is active (and rotates).
    const refreshed = await api.refresh(first.refresh);
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refresh_token).not.toBe(first.refresh);
  });

  it("DELETE /links/{id} → /ledger/check withdrawn → introspection inactive, refresh refused → Graph unlink called", async () => {
    const { link: row, access, refresh } = await linkAndExchange({ psid: "psid-unlink" });
    const before = env.graph.unlinkCalls().length;

    const res = await api.unlink(row.id);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ link_id: row.id, status: "unlinked", unlinked_by: "bank" });

    expect(await api.check({ link_id: row.id, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "withdrawn" });
    expect(await api.introspect(access)).toEqual({ active: false });
    const refused = await api.refresh(refresh);
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe("invalid_grant");
    expect((await env.db.prisma.grant.findMany({ where: { linkId: row.id } })).map((g) => g.revokedReason)).toEqual([expect.any(String)]);
    const calls = env.graph.unlinkCalls().slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.body).toEqual({ psid: "psid-unlink" });
    expect(calls[0]!.query.access_token).toBe(env.graph.pageAccessToken);
    const { entries } = await env.broker.modules.ledger.ledger.get(row.consentId!);
    expect(entries.map((e) => [e.action, e.actor])).toEqual([["granted", "customer"], ["withdrawn", "bank"]]);

    // Idempotent: a second DELETE changes nothing and calls Graph no more.
    expect((await api.unlink(row.id)).status).toBe(200);
    expect(env.graph.unlinkCalls().slice(before)).toHaveLength(1);
    expect((await env.broker.modules.ledger.ledger.get(row.consentId!)).entries).toHaveLength(2);
  });

  it("second link of the same customer verifies TOTP (no enrolment) and renews the consent, same link row", async () => {
    const first = await linkAndExchange({ psid: "psid-relink", username: "bob" });
    env.clock.advance(60_000);
    const { challenge } = api.pkce();
    const requestUri = await api.par({ scope: "balance:read alerts:fraud", code_challenge: challenge });
    const second = await driveLinkFlow(env, { clientId: bank.client_id, psid: "psid-relink", username: "bob", params: { request_uri: requestUri }, stopAt: "second_factor" });
    const page = await second.last.text();
    expect(totpSecretOf(page)).toBeUndefined(); // no enrolment: a code is asked for
    expect(page).toContain('name="code"');

    const again = await linkAndExchange({ psid: "psid-relink", username: "bob" });
    const rows = await env.db.prisma.link.findMany({ where: { clientId: bank.client_id, psid: "psid-relink" } });
    expect(rows).toHaveLength(1);
    expect(again.link.id).toBe(first.link.id);
    // Same scopes and purposes with a later expiry: `reconsent` renews the same consent.
    expect(again.link.consentId).toBe(first.link.consentId);
    const { consent, entries } = await env.broker.modules.ledger.ledger.get(first.link.consentId!);
    expect(entries.map((e) => e.action)).toEqual(["granted", "renewed"]);
    const check = await api.check({ link_id: first.link.id, scope: "balance:read" });
    expect(check).toMatchObject({ allowed: true, reason: "active", expires_at: consent.expiresAt.toISOString() });
    // The earlier tokens belong to the same, still active consent.
    expect((await api.introspect(first.access)).active).toBe(true);

    // Different scopes replace the consent: the old one withdrawn, a new one granted, same link.
    const replaced = await linkAndExchange({ psid: "psid-relink", username: "bob", scope: "transactions:read" });
    expect(replaced.link.id).toBe(first.link.id);
    expect(replaced.link.consentId).not.toBe(first.link.consentId);
    expect((await env.broker.modules.ledger.ledger.get(first.link.consentId!)).entries.map((e) => [e.action, e.actor]).at(-1)).toEqual(["withdrawn", "customer"]);
    expect(await api.check({ link_id: first.link.id, scope: "transactions:read" })).toMatchObject({ allowed: true, consent_id: replaced.link.consentId });
    expect((await api.check({ link_id: first.link.id, scope: "balance:read" })).allowed).toBe(false);
    // Tokens of the replaced consent end with it.
    expect((await api.introspect(first.access)).active).toBe(false);
    expect((await api.refresh(first.refresh)).json.error).toBe("invalid_grant");
    expect((await api.introspect(replaced.access)).active).toBe(true);
  });

  it("deny → redirect without a code, attempt declined, nothing granted in the ledger", async () => {
    const entriesBefore = await env.db.prisma.ledgerEntry.count();
    const { flow } = await link({ psid: "psid-deny", decision: "deny" });
    expect(flow.last.status).toBe(303);
    expect(flow.finalLocation!.href.startsWith(env.messengerRedirect)).toBe(true);
    expect(flow.finalLocation!.searchParams.has("authorization_code")).toBe(false);
    const attempt = await env.db.prisma.linkAttempt.findFirstOrThrow({ where: { psid: "psid-deny" } });
    expect(attempt.state).toBe("declined");
    expect(await env.db.prisma.link.count({ where: { psid: "psid-deny" } })).toBe(0);
    expect(await env.db.prisma.authorizationCode.count({ where: { attemptId: attempt.id } })).toBe(0);
    expect(await env.db.prisma.ledgerEntry.count()).toBe(entriesBefore);
    expect(await api.check({ client_id: bank.client_id, psid: "psid-deny", scope: "balance:read" })).toMatchObject({ allowed: false, reason: "no_consent" });
  });

  it("a replayed authorization code is refused and revokes the tokens it issued", async () => {
    const { flow, verifier, access, refresh } = await linkAndExchange({ psid: "psid-replay" });
    const replay = await api.exchange(flow.authorizationCode!, verifier);
    expect(replay.status).toBe(400);
    expect(replay.json.error).toBe("invalid_grant");
    expect(await api.introspect(access)).toEqual({ active: false });
    const refused = await api.refresh(refresh);
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe("invalid_grant");
  });

  it("a code exchanged after the link was unlinked mints no token (the consent is checked at the exchange)", async () => {
    const { flow, verifier } = await link({ psid: "psid-late-exchange" });
    const row = await env.db.prisma.link.findFirstOrThrow({ where: { clientId: bank.client_id, psid: "psid-late-exchange" } });
    expect((await api.unlink(row.id)).status).toBe(200);
    const late = await api.exchange(flow.authorizationCode!, verifier);
    expect(late.status).toBe(400);
    expect(late.json).toMatchObject({ error: "invalid_grant" });
    expect(late.json.access_token).toBeUndefined();
    const grants = await env.db.prisma.grant.findMany({ where: { linkId: row.id } });
    expect(grants.every((g) => g.revokedAt !== null)).toBe(true);
  });

  it("tenant isolation: another bank sees no consent, cannot unlink, lists only its own links", async () => {
    const { link: row } = await linkAndExchange({ psid: "psid-tenant" });
    const bankB = await env.registerBank({ name: "Other Bank" });
    const apiB = bankApi(env, bankB);
    expect(await apiB.check({ link_id: row.id, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "no_consent", consent_id: null });
    expect(await apiB.check({ client_id: bank.client_id, psid: "psid-tenant", scope: "balance:read" })).toMatchObject({ reason: "no_consent" });
    const del = await apiB.unlink(row.id);
    expect(del.status).toBe(404);
    expect(await apiB.links("psid-tenant")).toEqual([]);
    expect((await api.links("psid-tenant")).map((l) => [l.link_id, l.status])).toEqual([[row.id, "active"]]);
    expect((await env.db.prisma.link.findUniqueOrThrow({ where: { id: row.id } })).status).toBe("active");
    expect((await api.check({ link_id: row.id, scope: "balance:read" })).allowed).toBe(true);
    // A back-office service of bank B (ledger:check only) sees nothing of bank A either.
    const service = await env.registerBank({ service: true });
    expect(await bankApi(env, service).check({ link_id: row.id, scope: "balance:read" })).toMatchObject({ reason: "no_consent" });
  });

  // Last: it moves the clock days ahead.
  it("an expired consent: /ledger/check says expired and refresh fails", async () => {
    const { link: row, refresh } = await linkAndExchange({ psid: "psid-expiry", days: "1" });
    expect((await api.check({ link_id: row.id, scope: "balance:read" })).allowed).toBe(true);
    env.clock.advance(86_400_000 + 60_000);
    expect(await api.check({ link_id: row.id, scope: "balance:read" })).toMatchObject({ allowed: false, reason: "expired" });
    const refused = await api.refresh(refresh);
    expect(refused.status).toBe(400);
    expect(refused.json.error).toBe("invalid_grant");
  });
});
