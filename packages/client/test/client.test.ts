// The client against a real broker over HTTP: registration management, PAR, client credentials,
// introspection, revocation, /links and /ledger/check, with client_secret_basic and with
// private_key_jwt + DPoP (the broker asks every DPoP proof for its nonce).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BrokerError,
  BrokerUnreachableError,
  createBrokerClient,
  deleteRegistration,
  generateKeyPair,
  pkce,
  publicJwk,
  readRegistration,
  registerClient,
  updateRegistration,
} from "../src/index.ts";
import { startBroker, type RunningBroker } from "./support/broker.ts";

let b: RunningBroker;
beforeAll(async () => {
  b = await startBroker();
});
afterAll(() => b?.close());

describe("registration management", () => {
  it("registers, reads, updates and deletes a client", async () => {
    const reg = await registerClient({
      brokerUrl: b.url,
      initialAccessToken: b.initialAccessToken,
      metadata: { client_name: "Bank A", token_endpoint_auth_method: "client_secret_basic", grant_types: ["client_credentials"], scope: "ledger:check" },
    });
    expect(reg.client_secret).toBeTruthy();
    const manage = { brokerUrl: b.url, clientId: reg.client_id, registrationAccessToken: reg.registration_access_token! };
    expect((await readRegistration(manage))?.client_name).toBe("Bank A");
    const updated = await updateRegistration({ ...manage, metadata: { client_name: "Bank A2", token_endpoint_auth_method: "client_secret_basic", grant_types: ["client_credentials"], scope: "ledger:check" } });
    expect(updated.client_name).toBe("Bank A2");
    await deleteRegistration(manage);
    expect(await readRegistration(manage)).toBeUndefined();
  });

  it("refuses a wrong initial access token with the broker's error code", async () => {
    const err = await registerClient({ brokerUrl: b.url, initialAccessToken: "wrong-token-wrong-token-wrong-token", metadata: { client_name: "x" } }).catch((e) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as BrokerError).status).toBe(401);
    expect((err as BrokerError).code).toBe("invalid_token");
  });
});

describe("client_secret_basic", () => {
  let client: ReturnType<typeof createBrokerClient>;
  beforeAll(async () => {
    const reg = await registerClient({
      brokerUrl: b.url,
      initialAccessToken: b.initialAccessToken,
      metadata: { client_name: "Bank B", token_endpoint_auth_method: "client_secret_basic", grant_types: ["authorization_code", "refresh_token", "client_credentials"], scope: "balance:read ledger:check" },
    });
    client = createBrokerClient({ brokerUrl: b.url, clientId: reg.client_id, auth: { method: "client_secret_basic", clientSecret: reg.client_secret! } });
  });

  it("pushes a link request and answers the account_link URL", async () => {
    const { challenge } = await pkce();
    const { url, requestUri } = await client.pushAuthorizationRequest({ scope: "balance:read", codeChallenge: challenge, consentDurationDays: 30 });
    const u = new URL(url);
    expect(`${u.origin}${u.pathname}`).toBe(`${b.url}/link`);
    expect(u.searchParams.get("client_id")).toBe(client.clientId);
    expect(requestUri).toMatch(/^urn:ietf:params:oauth:request_uri:/);
  });

  it("gets, introspects and revokes a service token; checks the ledger with it", async () => {
    const t = await client.clientCredentials("ledger:check");
    expect(t.token_type.toLowerCase()).toBe("bearer");
    expect((await client.introspect(t.access_token)).active).toBe(true);
    const check = await client.checkConsent({ client_id: client.clientId, psid: "psid-nobody", scope: "balance:read", purpose: "account_servicing" }, t.access_token);
    expect(check).toMatchObject({ allowed: false, reason: "no_consent" });
    await client.revoke(t.access_token);
    expect((await client.introspect(t.access_token)).active).toBe(false);
  });

  it("lists links (none yet) and answers 404 for another's link", async () => {
    expect(await client.listLinks("psid-nobody")).toEqual([]);
    const err = await client.unlink("no-such-link").catch((e) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as BrokerError).status).toBe(404);
  });

  it("says which code the broker refused a wrong secret with", async () => {
    const wrong = createBrokerClient({ brokerUrl: b.url, clientId: client.clientId, auth: { method: "client_secret_basic", clientSecret: "not-the-secret" } });
    const err = await wrong.clientCredentials("ledger:check").catch((e) => e);
    expect(err).toBeInstanceOf(BrokerError);
    expect((err as BrokerError).code).toBe("invalid_client");
  });
});

describe("private_key_jwt with DPoP", () => {
  it("gets a DPoP-bound token (nonce and retry handled) and checks the ledger with its own cached token", async () => {
    const clientKeys = await generateKeyPair();
    const dpop = await generateKeyPair();
    const reg = await registerClient({
      brokerUrl: b.url,
      initialAccessToken: b.initialAccessToken,
      metadata: {
        client_name: "Bank C",
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ ...(await publicJwk(clientKeys.publicKey, "k1")) }] },
        grant_types: ["authorization_code", "refresh_token", "client_credentials"],
        scope: "balance:read ledger:check",
        dpop_bound_access_tokens: true,
      },
    });
    const client = createBrokerClient({ brokerUrl: b.url, clientId: reg.client_id, auth: { method: "private_key_jwt", privateKey: clientKeys.privateKey, kid: "k1" }, dpop });
    const t = await client.clientCredentials("ledger:check");
    expect(t.token_type.toLowerCase()).toBe("dpop");
    const intro = await client.introspect(t.access_token);
    expect(intro.cnf?.jkt).toBeTruthy();
    const first = await client.checkConsent({ client_id: reg.client_id, psid: "p1", scope: "balance:read", purpose: "account_servicing" });
    const second = await client.checkConsent({ client_id: reg.client_id, psid: "p1", scope: "balance:read", purpose: "account_servicing" });
    expect(first).toMatchObject({ allowed: false, reason: "no_consent" });
    expect(second).toEqual(first);
    const { challenge } = await pkce();
    expect((await client.pushAuthorizationRequest({ scope: "balance:read", codeChallenge: challenge })).requestUri).toBeTruthy();
  });
});

describe("an unreachable broker", () => {
  it("throws BrokerUnreachableError, not a hang", async () => {
    const client = createBrokerClient({ brokerUrl: "http://127.0.0.1:9", clientId: "x", auth: { method: "client_secret_basic", clientSecret: "y" }, timeoutMs: 2000 });
    await expect(client.clientCredentials("ledger:check")).rejects.toBeInstanceOf(BrokerUnreachableError);
  });
});

describe("transport security", () => {
  it("refuses plain http:// to anything but loopback", async () => {
    const client = createBrokerClient({ brokerUrl: "http://broker.example.com", clientId: "x", auth: { method: "client_secret_basic", clientSecret: "y" }, timeoutMs: 2000 });
    const err = await client.metadata().catch((e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(BrokerUnreachableError);
    expect(String((err as Error).message)).toMatch(/https|insecure|http:/i);
  });
});
