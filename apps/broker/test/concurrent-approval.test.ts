import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bankApi, type BankApi } from "./support/bank-api.ts";
import { csrfOf, driveLinkFlow, postForm } from "./support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type RegisteredBank } from "./support/linking-env.ts";

/**
 * Two link attempts for the same customer and PSID, both taken to the consent page, then both
 * approved at the same moment. Whatever order the database settles them in, the link must end
 * with one live consent, so that an unlink leaves nothing allowed and no code or token from
 * either attempt working (real OAuth server, real ledger, real database).
 */
describe("two approvals at the same moment, then unlink", () => {
  let env: LinkingEnv;
  let bank: RegisteredBank;
  let api: BankApi;

  beforeAll(async () => {
    env = await startLinkingEnv({ deps: "real" });
    bank = await env.registerBank();
    api = bankApi(env, bank);
  });
  afterAll(() => env?.close());

  async function toConsentPage(psid: string) {
    const { verifier, challenge } = api.pkce();
    const requestUri = await api.par({ scope: "balance:read", code_challenge: challenge });
    // Each attempt needs a TOTP code of its own time step (a step is accepted once).
    env.clock.advance(31_000);
    const flow = await driveLinkFlow(env, { clientId: bank.client_id, psid, params: { request_uri: requestUri }, stopAt: "consent" });
    expect(flow.last.status).toBe(200);
    return { jar: flow.jar, csrf: csrfOf(await flow.last.text()), verifier };
  }

  it("leaves no consent active and no token working after unlink (20 rounds)", async () => {
    for (let round = 0; round < 20; round++) {
      const psid = `psid-race-${round}`;
      const attempts = [await toConsentPage(psid), await toConsentPage(psid)];
      const decided = await Promise.all(attempts.map((a) => postForm(a.jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf: a.csrf })));
      const codes = decided.map((res) => {
        expect(res.status).toBe(303);
        return new URL(res.headers.get("location")!).searchParams.get("authorization_code");
      });
      expect(codes.every(Boolean)).toBe(true);

      const link = await env.db.prisma.link.findFirstOrThrow({ where: { clientId: bank.client_id, psid } });
      const consents = await env.db.prisma.consent.findMany({ where: { linkId: link.id } });
      // One link, one live consent: the second approval renewed or replaced the first.
      expect(consents.filter((c) => c.status === "active").map((c) => c.id)).toEqual([link.consentId]);

      // The first code is exchanged before the unlink, the second after it.
      const first = await api.exchange(codes[0]!, attempts[0]!.verifier);
      const live = first.status === 200 ? (first.json as { access_token: string; refresh_token: string }) : undefined;
      expect((await api.unlink(link.id)).status).toBe(200);
      const second = await api.exchange(codes[1]!, attempts[1]!.verifier);
      expect(second.status).toBe(400);
      expect(second.json.error).toBe("invalid_grant");

      const after = await env.db.prisma.consent.findMany({ where: { linkId: link.id } });
      expect(after.filter((c) => c.status === "active")).toEqual([]);
      expect(await api.check({ link_id: link.id, scope: "balance:read" })).toMatchObject({ allowed: false });
      expect(await api.check({ client_id: bank.client_id, psid, scope: "balance:read" })).toMatchObject({ allowed: false });
      if (live) {
        expect(await api.introspect(live.access_token)).toEqual({ active: false });
        expect((await api.refresh(live.refresh_token)).status).toBe(400);
      }
      expect(await env.db.prisma.grant.count({ where: { linkId: link.id, revokedAt: null } })).toBe(0);
    }
  }, 240_000);

  it("a code is refused when its link is no longer live or no longer holds the code's consent", async () => {
    for (const tamper of ["unlinked", "other consent"] as const) {
      const psid = `psid-link-check-${tamper.replace(" ", "-")}`;
      const attempt = await toConsentPage(psid);
      const decided = await postForm(attempt.jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf: attempt.csrf });
      const code = new URL(decided.headers.get("location")!).searchParams.get("authorization_code")!;
      const link = await env.db.prisma.link.findFirstOrThrow({ where: { clientId: bank.client_id, psid } });
      // The consent stays active in the ledger: only the link check can refuse these.
      await env.db.prisma.link.update({ where: { id: link.id }, data: tamper === "unlinked" ? { status: "unlinked" } : { consentId: "another-consent" } });
      const refused = await api.exchange(code, attempt.verifier);
      expect(refused.status).toBe(400);
      expect(refused.json).toMatchObject({ error: "invalid_grant", error_description: "the link is no longer active" });
      expect(await env.db.prisma.grant.count({ where: { linkId: link.id, revokedAt: null } })).toBe(0);
    }
  });
});
