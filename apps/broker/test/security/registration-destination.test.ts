// Finding 8: with only the registration access token, a PUT could point bank_idp.issuer at another
// server and keep the sealed bank IdP client secret, which the broker would then send there.
// Moving the client (bank_idp.issuer, messenger.page_id or jwks_uri) now needs every secret again.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "../support/app.ts";

let broker: TestBroker;
beforeAll(async () => {
  broker = await startTestBroker();
});
afterAll(() => broker?.close());

const messenger = { page_id: "PAGE-1", page_access_token: "page-token-secret", app_secret: "app-secret-value", verify_token: "verify-token-value" };
const bankIdp = { issuer: "http://127.0.0.1:9/bank", client_id: "broker-at-bank", client_secret: "bank-idp-secret" };
const noSecrets = { messenger: { page_id: messenger.page_id }, bank_idp: { issuer: bankIdp.issuer, client_id: bankIdp.client_id } };

async function registerBank(extra: Record<string, unknown> = {}) {
  const res = await broker.app.inject({
    method: "POST",
    url: "/connect/register",
    headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` },
    payload: { client_name: "Bank", grant_types: ["authorization_code", "refresh_token"], scope: "balance:read", messenger, bank_idp: bankIdp, ...extra },
  });
  expect(res.statusCode).toBe(201);
  return res.json() as { client_id: string; registration_access_token: string };
}

const put = (c: { client_id: string; registration_access_token: string }, body: Record<string, unknown>) =>
  broker.app.inject({
    method: "PUT",
    url: `/connect/register/${c.client_id}`,
    headers: { authorization: `Bearer ${c.registration_access_token}` },
    payload: { client_id: c.client_id, client_name: "Bank", grant_types: ["authorization_code", "refresh_token"], scope: "balance:read", ...body },
  });

const row = (id: string) => broker.db.prisma.client.findUniqueOrThrow({ where: { id } });

describe("a PUT that moves a client needs its secrets again", () => {
  it("attack: bank_idp.issuer pointed at another server without the secret → invalid_client_metadata, nothing changes", async () => {
    const c = await registerBank();
    const before = await row(c.client_id);
    const res = await put(c, { ...noSecrets, bank_idp: { ...noSecrets.bank_idp, issuer: "http://127.0.0.1:9/evil" } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe("invalid_client_metadata");
    expect(await row(c.client_id)).toEqual(before);
  });

  it("attack: messenger.page_id changed without the page secrets → refused", async () => {
    const c = await registerBank();
    const res = await put(c, { ...noSecrets, messenger: { page_id: "PAGE-EVIL" } });
    expect(res.statusCode).toBe(400);
    expect((await row(c.client_id)).messengerPageId).toBe("PAGE-1");
  });

  it("attack: a new jwks_uri without the secrets → refused", async () => {
    const c = await registerBank();
    const res = await put(c, { ...noSecrets, jwks_uri: "http://127.0.0.1:9/evil-keys" });
    expect(res.statusCode).toBe(400);
    expect((await row(c.client_id)).jwksUri).toBeNull();
  });

  it("the same destinations keep their secrets without sending them (read-modify-write)", async () => {
    const c = await registerBank();
    const before = await row(c.client_id);
    const res = await put(c, { ...noSecrets, client_name: "Bank renamed" });
    expect(res.statusCode).toBe(200);
    const after = await row(c.client_id);
    expect(after.name).toBe("Bank renamed");
    expect(after.bankIdpSecretSealed).toBe(before.bankIdpSecretSealed);
    expect(after.messengerPageTokenSealed).toBe(before.messengerPageTokenSealed);
  });

  it("a move with every secret sent again is accepted and seals the new ones", async () => {
    const c = await registerBank();
    const before = await row(c.client_id);
    const res = await put(c, { messenger, bank_idp: { ...bankIdp, issuer: "http://127.0.0.1:9/new-bank", client_secret: "new-bank-secret" } });
    expect(res.statusCode).toBe(200);
    const after = await row(c.client_id);
    expect(after.bankIdpIssuer).toBe("http://127.0.0.1:9/new-bank");
    expect(after.bankIdpSecretSealed).not.toBe(before.bankIdpSecretSealed);
    expect(broker.app.modules.ctx.sealer.unseal(after.bankIdpSecretSealed!, `client:${c.client_id}:bank_idp_client_secret`)).toBe("new-bank-secret");
  });
});
