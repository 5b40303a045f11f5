// A refresh token lives as long as its consent (1–365 days), not a fixed 30 days: with the
// broker's clock moved by hand, refresh works on day 45 and day 89 of a 90-day consent, still
// rotating, and is refused once the consent has expired or was withdrawn.
import { createHash, randomUUID } from "node:crypto";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hashToken } from "../src/crypto/hash.ts";
import { basic, postForm, registerClient, startRunningBroker, type Registered, type RunningBroker } from "./support/oauth.ts";
import { insertLink } from "./support/link-row.ts";

const DAY = 86_400_000;

describe("refresh tokens last as long as the consent", () => {
  let broker: RunningBroker;
  let bank: Registered;
  let offset = 0;
  const clock = { now: () => new Date(Date.now() + offset) };

  beforeAll(async () => {
    broker = await startRunningBroker({ deps: { clock } });
    bank = await registerClient(broker.url, { scope: "balance:read alerts:fraud" });
  });
  afterAll(() => broker?.close());

  /** The linking flow's consent transaction (link, ledger grant, code), then the code exchange. */
  async function linkAndExchange(durationDays: number) {
    const v = oidc.randomPKCECodeVerifier();
    const linkId = randomUUID();
    const expiresAt = new Date(clock.now().getTime() + durationDays * DAY);
    const { code, consentId } = await broker.db.transaction(async (tx) => {
      const { consentId } = await broker.app.modules.ledger.ledger.grant({ clientId: bank.client_id, subject: `customer-${linkId}`, linkId, psid: linkId, scopes: ["balance:read"], expiresAt, actor: "customer" }, { tx });
      await insertLink(tx, { id: linkId, clientId: bank.client_id, subject: `customer-${linkId}`, psid: linkId, consentId });
      const code = await broker.app.modules.oauth.issueAuthorizationCode(tx, { clientId: bank.client_id, linkId, attemptId: randomUUID(), consentId, subject: `customer-${linkId}`, scopes: ["balance:read"], codeChallenge: createHash("sha256").update(v).digest("base64url") });
      return { code, consentId };
    });
    const tokens = await postForm(`${broker.url}/oauth/token`, { grant_type: "authorization_code", code, code_verifier: v }, { authorization: basic(bank.client_id, bank.client_secret!) });
    expect(tokens.status).toBe(200);
    return { consentId, expiresAt, refreshToken: String(tokens.json.refresh_token) };
  }
  const refresh = (refreshToken: string) => postForm(`${broker.url}/oauth/token`, { grant_type: "refresh_token", refresh_token: refreshToken }, { authorization: basic(bank.client_id, bank.client_secret!) });
  const stored = (token: string) => broker.db.prisma.refreshToken.findUnique({ where: { tokenHash: hashToken(token) } });

  it("refreshes on day 45 and day 89 of a 90-day consent, rotating, and refuses after its expiry", async () => {
    offset = 0;
    const start = clock.now().getTime();
    const { refreshToken, expiresAt } = await linkAndExchange(90);
    // The consent's end, not a fixed 30 days.
    expect((await stored(refreshToken))?.expiresAt.getTime()).toBe(expiresAt.getTime());
    let current = refreshToken;
    for (const day of [45, 89]) {
      offset = start + day * DAY - Date.now();
      const res = await refresh(current);
      expect(res.status, `day ${day}: ${JSON.stringify(res.json)}`).toBe(200);
      expect(res.json.scope).toBe("balance:read");
      expect(res.json.refresh_token).toBeTruthy();
      expect(res.json.refresh_token).not.toBe(current); // still rotating
      current = String(res.json.refresh_token);
      expect((await stored(current))?.expiresAt.getTime()).toBe(expiresAt.getTime());
    }
    offset = expiresAt.getTime() + 1000 - Date.now();
    const late = await refresh(current);
    expect(late.status).toBe(400);
    expect(late.json).toMatchObject({ error: "invalid_grant" });
    offset = 0;
  });

  it("still dies at once on withdrawal", async () => {
    offset = 0;
    const start = clock.now().getTime();
    const { refreshToken, consentId } = await linkAndExchange(365);
    offset = start + 45 * DAY - Date.now();
    const ok = await refresh(refreshToken);
    expect(ok.status).toBe(200);
    await broker.app.modules.ledger.ledger.withdraw({ consentId, actor: "customer" });
    const after = await refresh(String(ok.json.refresh_token));
    expect(after.json).toMatchObject({ error: "invalid_grant" });
    offset = 0;
  });
});
