import type { ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./support/suite-log.ts";
import { BankIdpError, createBankIdp } from "../src/linking/bank-idp.ts";
import { parseCidrList } from "../src/net/address-policy.ts";
import { registrantFetch } from "../src/net/outbound-fetch.ts";
import { testConfig, TEST_REGISTRATION_TOKEN } from "./support/app.ts";
import { type HostileServer, startHostileServer, streamHugeBody } from "./support/hostile-server.ts";
import { startRunningBroker, type RunningBroker } from "./support/oauth.ts";

const MB = 1024 * 1024;
const ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/**
 * Servers a registrant controls stand in for internal services: loopback on 127.0.0.1 and ::1,
 * with the loopback allowlist the other tests use turned off (`BROKER_OUTBOUND_ALLOWLIST=""`).
 */
describe("SSRF: the broker fetches only public addresses", () => {
  let broker: RunningBroker;
  let strict: Awaited<ReturnType<typeof buildTestApp>>;
  let privateKey: CryptoKey;
  let jwk: Record<string, unknown>;
  let v4: HostileServer;
  let v6: HostileServer;
  let huge: HostileServer;
  const serveKeys = (_req: unknown, res: ServerResponse) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));

  beforeAll(async () => {
    ({ privateKey } = await generateKeyPair("ES256"));
    const pair = await generateKeyPair("ES256");
    privateKey = pair.privateKey;
    jwk = { ...(await exportJWK(pair.publicKey)), kid: "k", alg: "ES256" };
    v4 = await startHostileServer("127.0.0.1", serveKeys);
    v6 = await startHostileServer("::1", serveKeys);
    huge = await startHostileServer("127.0.0.1", (_req, res, s) => streamHugeBody(res, 48 * MB, s));
    // Registered while loopback was allowed (as in development), then served by a broker without
    // the allowlist on the same database: what a production broker does with such a client.
    broker = await startRunningBroker();
    strict = await buildTestApp({ config: testConfig({ PUBLIC_URL: broker.url, BROKER_OUTBOUND_ALLOWLIST: "" }), db: broker.db, logger: false });
    await strict.ready();
  });
  afterAll(async () => {
    await strict?.close();
    await broker?.close();
    await Promise.all([v4?.close(), v6?.close(), huge?.close()]);
  });

  const register = (app: Awaited<ReturnType<typeof buildTestApp>>, metadata: Record<string, unknown>) =>
    app.inject({ method: "POST", url: "/connect/register", headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` }, payload: metadata });

  async function registerJwksClient(jwksUri: string): Promise<string> {
    const res = await register(broker.app, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri, grant_types: ["client_credentials"], scope: "ledger:check" });
    expect(res.statusCode, res.body).toBe(201);
    return res.json().client_id;
  }

  async function assertionToken(app: Awaited<ReturnType<typeof buildTestApp>>, clientId: string) {
    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: crypto.randomUUID() }).setProtectedHeader({ alg: "ES256", kid: "k" }).setIssuer(clientId).setSubject(clientId).setAudience(broker.url).setIssuedAt(now).setExpirationTime(now + 60).sign(privateKey);
    return app.inject({ method: "POST", url: "/oauth/token", payload: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: ASSERTION_TYPE, client_assertion: assertion }).toString(), headers: { "content-type": "application/x-www-form-urlencoded" } });
  }

  it("registration refuses a jwks_uri or bank issuer on an internal address", async () => {
    const hosts = ["169.254.169.254", "10.0.0.1", "[fd00::1]", "0.0.0.0", "2130706433", "127.0.0.1", "[::1]", "localhost", "[::ffff:10.0.0.1]"];
    for (const host of hosts) {
      const jwks = await register(strict, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: `https://${host}/jwks`, grant_types: ["client_credentials"], scope: "ledger:check" });
      expect(jwks.statusCode, host).toBe(400);
      expect(jwks.json(), host).toMatchObject({ error: "invalid_client_metadata", error_description: expect.stringMatching(/^jwks_uri names an internal address/) });
      const idp = await register(strict, { scope: "balance:read", bank_idp: { issuer: `https://${host}`, client_id: "broker", client_secret: "s" } });
      expect(idp.statusCode, host).toBe(400);
      expect(idp.json().error_description, host).toMatch(/^bank_idp\.issuer names an internal address/);
    }
    expect(await broker.db.prisma.client.count({ where: { jwksUri: { not: null } } })).toBe(0);
    // A public address is still fine.
    expect((await register(strict, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://93.184.215.14/jwks", grant_types: ["client_credentials"], scope: "ledger:check" })).statusCode).toBe(201);
  });

  it("a client assertion never makes the broker connect to an internal jwks_uri (127.0.0.1, ::1, a name)", async () => {
    const port4 = new URL(v4.url).port;
    for (const uri of [`${v4.url}/jwks`, `${v6.url}/jwks`, `http://localhost:${port4}/jwks`]) {
      const clientId = await registerJwksClient(uri);
      // The allowlisted broker fetches it, which shows the client and its keys are sound...
      if (uri === `${v4.url}/jwks`) expect((await assertionToken(broker.app, clientId)).statusCode).toBe(200);
      const before = v4.connections + v6.connections;
      // ...and the broker without the allowlist never connects, however often it is asked.
      for (let i = 0; i < 3; i++) {
        const res = await assertionToken(strict, clientId);
        expect(res.statusCode, uri).toBe(401);
        expect(res.json().error).toBe("invalid_client");
      }
      expect(v4.connections + v6.connections, uri).toBe(before);
    }
    expect(v6.connections).toBe(0);
  });

  it("reads at most 64 KB of a jwks_uri: a body of 48 MB is refused, RSS stays flat, and the failure is not retried at once", async () => {
    const clientId = await registerJwksClient(`${huge.url}/jwks`);
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 3; i++) expect((await assertionToken(broker.app, clientId)).statusCode).toBe(401);
    expect(process.memoryUsage().rss - before).toBeLessThan(24 * MB);
    expect(huge.bytesSent).toBeLessThan(24 * MB);
    expect(huge.requests).toHaveLength(1);
  });
});

describe("SSRF: endpoints a bank's discovery document names are checked too", () => {
  let issuer: HostileServer;
  let internal: HostileServer;
  beforeAll(async () => {
    internal = await startHostileServer("::1", (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end("{}"));
    issuer = await startHostileServer("127.0.0.1", (req, res) => {
      const base = issuer.url;
      if (req.url === "/.well-known/openid-configuration") {
        res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({ issuer: base, authorization_endpoint: `${base}/authorize`, token_endpoint: `${internal.url}/token`, jwks_uri: `${internal.url}/jwks`, response_types_supported: ["code"] }),
        );
      } else res.writeHead(404).end();
    });
  });
  afterAll(async () => {
    await issuer?.close();
    await internal?.close();
  });

  it("does not POST the bank credentials to a token_endpoint on an internal address", async () => {
    // The issuer itself is allowlisted (127.0.0.1 only); the token endpoint it names (::1) is not.
    const idp = createBankIdp({ redirectUri: "http://127.0.0.1:3000/link/callback", production: false, fetch: registrantFetch(parseCidrList("127.0.0.1")) });
    const settings = { issuer: issuer.url, clientId: "broker", clientSecret: "bank-idp-secret", authMethod: "client_secret_basic" as const };
    const request = await idp.authorizationRequest(settings);
    const callback = new URL(`http://127.0.0.1:3000/link/callback?code=abc&state=${request.state}`);
    const err = await idp.completeCallback(settings, callback, request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BankIdpError);
    expect((err as BankIdpError).kind).toBe("unavailable");
    expect(internal.connections).toBe(0);
  });
});
