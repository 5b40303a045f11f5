// Finding 3: a client assertion with `aud: ["https://evil.example/", issuer]` was accepted. FAPI 2.0
// and RFC 7523bis want `aud` to be the issuer, as one string; anything else is invalid_client.
import { randomUUID } from "node:crypto";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "../support/app.ts";

let broker: TestBroker;
let clientId: string;
let privateKey: Awaited<ReturnType<typeof generateKeyPair>>["privateKey"];

beforeAll(async () => {
  broker = await startTestBroker();
  const keys = await generateKeyPair("ES256", { extractable: true });
  privateKey = keys.privateKey;
  const jwk = { ...(await exportJWK(keys.publicKey)), kid: "k1", alg: "ES256" };
  const res = await broker.app.inject({
    method: "POST",
    url: "/connect/register",
    headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` },
    payload: { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] }, grant_types: ["client_credentials"], scope: "ledger:check" },
  });
  expect(res.statusCode).toBe(201);
  clientId = res.json().client_id;
});
afterAll(() => broker?.close());

async function tokenWith(aud: string | string[]) {
  const assertion = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(clientId).setSubject(clientId).setAudience(aud).setJti(randomUUID()).setIssuedAt().setExpirationTime("60s").sign(privateKey);
  return broker.app.inject({
    method: "POST",
    url: "/oauth/token",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    payload: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }).toString(),
  });
}

describe("client assertion audience", () => {
  it("accepts the issuer as a single string", async () => {
    expect((await tokenWith(broker.config.publicUrl)).statusCode).toBe(200);
  });

  it("refuses a list that also names another server, or the issuer alone in a list", async () => {
    for (const aud of [["https://evil.example/", broker.config.publicUrl], [broker.config.publicUrl]]) {
      const res = await tokenWith(aud);
      expect(res.statusCode).toBe(401);
      expect(res.json().error).toBe("invalid_client");
    }
  });

  it("refuses the token endpoint or another server as the audience", async () => {
    for (const aud of [`${broker.config.publicUrl}/oauth/token`, "https://evil.example/"]) {
      expect((await tokenWith(aud)).json().error).toBe("invalid_client");
    }
  });
});
