import { exportJWK, generateKeyPair, jwtVerify, createRemoteJWKSet, SignJWT } from "jose";
import * as oidc from "openid-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bankIdpSettings } from "../src/linking/bank-idp.ts";
import { messengerSettings } from "../src/messenger/messenger-secrets.ts";
import { TEST_REGISTRATION_TOKEN } from "./support/app.ts";
import { basic, clientConfig, postForm, registerClient, runningBrokerForSuite, startRunningBroker, type RunningBroker } from "./support/oauth.ts";

describe("OAuth: metadata, registration, client credentials, introspection", () => {
  let broker: RunningBroker;
  let url: string;
  beforeAll(async () => {
    broker = await startRunningBroker();
    url = broker.url;
  });
  afterAll(() => broker?.close());

  const service = () => registerClient(url, { client_name: "Bank back office", grant_types: ["client_credentials"], scope: "ledger:check ledger:audit" });

  it("publishes truthful RFC 8414 metadata and a JWKS", async () => {
    const meta = (await (await fetch(`${url}/.well-known/oauth-authorization-server`)).json()) as any;
    expect(meta).toMatchObject({
      issuer: url,
      authorization_endpoint: `${url}/link`,
      token_endpoint: `${url}/oauth/token`,
      pushed_authorization_request_endpoint: `${url}/par`,
      code_challenge_methods_supported: ["S256"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "private_key_jwt"],
      grant_types_supported: ["authorization_code", "refresh_token", "client_credentials"],
    });
    expect(meta.dpop_signing_alg_values_supported).toContain("ES256");
    const jwks = (await (await fetch(`${url}/jwks.json`)).json()) as any;
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).not.toHaveProperty("d");
    const row = await broker.db.prisma.signingKey.findFirstOrThrow();
    expect(row.privateJwkSealed).toMatch(/^v1\./);
    expect(row.privateJwkSealed).not.toContain('"d"');
  });

  it("registers, reads, updates and deletes a client (RFC 7591/7592) without echoing secrets", async () => {
    const created = await registerClient(url, {
      client_name: "Demo Bank",
      scope: "balance:read alerts:fraud",
      messenger: { page_id: "123", page_access_token: "page-token-secret", app_secret: "app-secret-value", verify_token: "verify-me" },
      bank_idp: { issuer: "http://127.0.0.1:9999", client_id: "broker", client_secret: "idp-secret-value" },
    });
    expect(created.client_secret).toHaveLength(43);
    expect(created.registration_access_token).toBeTruthy();
    expect(created).toMatchObject({ grant_types: ["authorization_code", "refresh_token"], require_pushed_authorization_requests: true, messenger: { page_id: "123" } });
    expect(JSON.stringify(created)).not.toMatch(/page-token-secret|app-secret-value|verify-me|idp-secret-value/);
    const row = await broker.db.prisma.client.findUniqueOrThrow({ where: { id: created.client_id } });
    expect(row.secretHash).not.toBe(created.client_secret);
    expect(row.messengerAppSecretSealed).toMatch(/^v1\./);
    expect(row.bankIdpSecretSealed).not.toContain("idp-secret-value");
    // Sealed under the contexts the linking flow and the webhook unseal with.
    const sealer = broker.app.modules.ctx.sealer;
    expect(messengerSettings(row, sealer)).toEqual({ pageId: "123", pageAccessToken: "page-token-secret", appSecret: "app-secret-value", verifyToken: "verify-me" });
    expect(bankIdpSettings(row, sealer)).toMatchObject({ issuer: "http://127.0.0.1:9999", clientId: "broker", clientSecret: "idp-secret-value", authMethod: "client_secret_basic" });

    const auth = { authorization: `Bearer ${created.registration_access_token}` };
    const read = await fetch(created.registration_client_uri, { headers: auth });
    expect(read.status).toBe(200);
    const readBody = (await read.json()) as any;
    expect(readBody).not.toHaveProperty("client_secret");
    expect(readBody).not.toHaveProperty("registration_access_token");
    expect(JSON.stringify(readBody)).not.toMatch(/secret-value|page-token/);

    const wrong = await fetch(created.registration_client_uri, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);

    const put = await fetch(created.registration_client_uri, {
      method: "PUT",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify({ client_id: created.client_id, client_name: "Demo Bank 2", scope: "balance:read", messenger: { page_id: "123" } }),
    });
    expect(put.status).toBe(200);
    expect((await put.json()) as any).toMatchObject({ client_name: "Demo Bank 2", scope: "balance:read", messenger: { page_id: "123" } });
    const kept = await broker.db.prisma.client.findUniqueOrThrow({ where: { id: created.client_id } });
    expect(kept.messengerAppSecretSealed).toBe(row.messengerAppSecretSealed);
    expect(kept.bankIdpIssuer).toBeNull();

    const del = await fetch(created.registration_client_uri, { method: "DELETE", headers: auth });
    expect(del.status).toBe(204);
    expect((await fetch(created.registration_client_uri, { headers: auth })).status).toBe(401);
  });

  it("refuses registration without the initial access token", async () => {
    const res = await fetch(`${url}/connect/register`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    expect(res.status).toBe(401);
    expect(((await res.json()) as any).error).toBe("invalid_token");
  });

  it.each([
    [{ scope: "balance:read wallet:drain" }, /unknown scope/],
    [{ scope: "balance:read advertising" }, /advertising/],
    [{ client_name: "Advertising partner" }, /advertising/],
    [{ policy_uri: "http://bank.example/policy" }, /policy_uri/],
    [{ token_endpoint_auth_method: "private_key_jwt" }, /jwks/],
    [{ grant_types: ["client_credentials"], scope: "balance:read" }, /grant type|client_credentials/],
    [{ grant_types: ["implicit"] }, /grant_types/],
  ])("refuses invalid metadata %j with invalid_client_metadata", async (metadata, description) => {
    const res = await fetch(`${url}/connect/register`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(metadata),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as any;
    expect(body.error).toBe("invalid_client_metadata");
    expect(body.error_description).toMatch(description);
  });

  it("issues client_credentials tokens with client_secret_basic (RFC 9068 JWT)", async () => {
    const c = await service();
    const config = await clientConfig(url, c.client_id, oidc.ClientSecretBasic(c.client_secret!));
    const tokens = await oidc.clientCredentialsGrant(config, { scope: "ledger:check" });
    expect(tokens.token_type).toBe("bearer");
    expect(tokens.expires_in).toBeLessThanOrEqual(900);
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, createRemoteJWKSet(new URL(`${url}/jwks.json`)), { issuer: url, audience: url, typ: "at+jwt" });
    expect(protectedHeader.alg).toBe("ES256");
    expect(payload).toMatchObject({ sub: c.client_id, client_id: c.client_id, scope: "ledger:check" });
    expect(payload.jti).toBeTruthy();

    const ok = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { authorization: basic(c.client_id, c.client_secret!) });
    expect(ok.headers.get("cache-control")).toBe("no-store");
    expect(ok.headers.get("pragma")).toBe("no-cache");
    const res = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials", scope: "balance:read" }, { authorization: basic(c.client_id, c.client_secret!) });
    expect(res.status).toBe(400);
    expect(res.json.error).toBe("invalid_scope");
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("answers 401 invalid_client with WWW-Authenticate on a wrong secret", async () => {
    const c = await service();
    const res = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials" }, { authorization: basic(c.client_id, "wrong") });
    expect(res.status).toBe(401);
    expect(res.json.error).toBe("invalid_client");
    expect(res.headers.get("www-authenticate")).toMatch(/Basic/);
  });

  it("authenticates with private_key_jwt and refuses a replayed assertion jti", async () => {
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" };
    const c = await registerClient(url, { token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [jwk] }, grant_types: ["client_credentials"], scope: "ledger:audit" });
    expect(c.client_secret).toBeUndefined();
    const config = await clientConfig(url, c.client_id, oidc.PrivateKeyJwt({ key: privateKey, kid: "k1" }));
    const tokens = await oidc.clientCredentialsGrant(config);
    expect(tokens.scope).toBe("ledger:audit");

    const now = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ jti: "one-time-jti-1" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(c.client_id)
      .setSubject(c.client_id)
      .setAudience(url)
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(privateKey);
    const form = { grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion };
    expect((await postForm(`${url}/oauth/token`, form)).status).toBe(200);
    const replay = await postForm(`${url}/oauth/token`, form);
    expect(replay.status).toBe(401);
    expect(replay.json.error).toBe("invalid_client");

    const long = await new SignJWT({ jti: "long-lived" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(c.client_id)
      .setSubject(c.client_id)
      .setAudience(url)
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(privateKey);
    expect((await postForm(`${url}/oauth/token`, { ...form, client_assertion: long })).json.error).toBe("invalid_client");
  });

  it("authenticates private_key_jwt against a jwks_uri (loopback http in development)", async () => {
    const { createServer } = await import("node:http");
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "remote", alg: "ES256" };
    const server = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    try {
      const jwksUri = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
      const c = await registerClient(url, { token_endpoint_auth_method: "private_key_jwt", jwks_uri: jwksUri, grant_types: ["client_credentials"], scope: "ledger:check" });
      const config = await clientConfig(url, c.client_id, oidc.PrivateKeyJwt({ key: privateKey, kid: "remote" }));
      const tokens = await oidc.clientCredentialsGrant(config);
      expect(tokens.access_token).toBeTruthy();
    } finally {
      server.close();
    }
  });

  it("signs with the new key after rotation and keeps the old key published", async () => {
    const c = await service();
    const config = await clientConfig(url, c.client_id, oidc.ClientSecretBasic(c.client_secret!));
    const before = await oidc.clientCredentialsGrant(config);
    const newKid = await broker.app.modules.oauth.keyStore.rotate();
    const after = await oidc.clientCredentialsGrant(config);
    const jwks = createRemoteJWKSet(new URL(`${url}/jwks.json`));
    const a = await jwtVerify(after.access_token, jwks, { issuer: url });
    expect(a.protectedHeader.kid).toBe(newKid);
    const b = await jwtVerify(before.access_token, createRemoteJWKSet(new URL(`${url}/jwks.json`)), { issuer: url });
    expect(b.protectedHeader.kid).not.toBe(newKid);
    const published = (await (await fetch(`${url}/jwks.json`)).json()) as any;
    expect(published.keys.map((k: { kid: string }) => k.kid)).toEqual(expect.arrayContaining([newKid, b.protectedHeader.kid]));
    // The receipts signer is the same key store.
    const receipt = await broker.app.modules.keys.signer.sign({ hello: "ledger" }, { typ: "consent-receipt+jwt" });
    expect((await jwtVerify(receipt, createRemoteJWKSet(new URL(`${url}/jwks.json`)))).protectedHeader.kid).toBe(newKid);
  });

  it("introspects a token as active, then inactive after revocation; another client sees nothing", async () => {
    const c = await service();
    const other = await service();
    const config = await clientConfig(url, c.client_id, oidc.ClientSecretBasic(c.client_secret!));
    const otherConfig = await clientConfig(url, other.client_id, oidc.ClientSecretBasic(other.client_secret!));
    const { access_token } = await oidc.clientCredentialsGrant(config);
    const active = await oidc.tokenIntrospection(config, access_token);
    expect(active).toMatchObject({ active: true, client_id: c.client_id, token_type: "Bearer" });
    expect((await oidc.tokenIntrospection(otherConfig, access_token)).active).toBe(false);
    await oidc.tokenRevocation(otherConfig, access_token);
    expect((await oidc.tokenIntrospection(config, access_token)).active).toBe(true);
    await oidc.tokenRevocation(config, access_token);
    expect((await oidc.tokenIntrospection(config, access_token)).active).toBe(false);
    expect((await oidc.tokenIntrospection(config, "garbage.token.value")).active).toBe(false);
  });

  it("answers malformed bodies and oversized parameters with 400 and an RFC error on every endpoint", async () => {
    const c = await service();
    const auth = { authorization: basic(c.client_id, c.client_secret!) };
    for (const path of ["/oauth/token", "/par", "/oauth/introspect", "/oauth/revoke"]) {
      const huge = await postForm(`${url}${path}`, { grant_type: "client_credentials", token: "x".repeat(5000), scope: "x".repeat(5000) }, auth);
      expect(huge.status, path).toBe(400);
      expect(huge.json.error, path).toBe("invalid_request");
      const dupes = await postForm(`${url}${path}`, "grant_type=client_credentials&grant_type=client_credentials&token=a&token=b", auth);
      expect(dupes.status, path).toBe(400);
      expect(dupes.json.error, path).toBe("invalid_request");
      const json = await fetch(`${url}${path}`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: "{" });
      expect(json.status, path).toBe(400);
      expect(((await json.json()) as any).error, path).toBe("invalid_request");
      const empty = await fetch(`${url}${path}`, { method: "POST", headers: auth });
      expect(empty.status, path).toBe(400);
      expect(((await empty.json()) as any).error, path).toBeTruthy();
    }
    const badJson = await fetch(`${url}/connect/register`, { method: "POST", headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}`, "content-type": "application/json" }, body: "{not json" });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as any).error).toMatch(/invalid_request|invalid_client_metadata/);
    const bigName = await fetch(`${url}/connect/register`, { method: "POST", headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}`, "content-type": "application/json" }, body: JSON.stringify({ client_name: "x".repeat(5000) }) });
    expect(bigName.status).toBe(400);
    expect(((await bigName.json()) as any).error).toBe("invalid_client_metadata");
    const unsupported = await postForm(`${url}/oauth/token`, { grant_type: "password" }, auth);
    expect(unsupported.json.error).toBe("unsupported_grant_type");
  });
  it("never answers 5xx to hostile input", async () => {
    const c = await service();
    const good = basic(c.client_id, c.client_secret!);
    const headerSets: Record<string, string>[] = [
      { authorization: "Basic !!!notbase64" },
      { authorization: `Basic ${Buffer.from("no-colon").toString("base64")}` },
      { authorization: `Basic ${Buffer.from("%E0%A4%A:%").toString("base64")}` },
      { authorization: good, dpop: "not.a.jwt" },
      { authorization: good, dpop: "eyJhbGciOiJub25lIn0.e30." },
      { authorization: "Bearer x" },
    ];
    const bodies = [
      "grant_type=client_credentials",
      "grant_type=authorization_code&code=x&code_verifier=y",
      "grant_type=refresh_token&refresh_token=abc",
      "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c",
      "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4Iiwic3ViIjoieCJ9.",
      "token=a.b.c&token_type_hint=weird",
      "%%%=%%%",
      "scope=" + "a ".repeat(1000),
    ];
    for (const path of ["/oauth/token", "/par", "/oauth/introspect", "/oauth/revoke"]) {
      for (const headers of headerSets) {
        for (const body of bodies) {
          const res = await postForm(`${url}${path}`, body, headers);
          const label = `${path} ${JSON.stringify(headers)} ${body.slice(0, 60)}`;
          // Only an authenticated introspection or revocation of some token succeeds: RFC 7662
          // and 7009 answer an unknown token with {active:false} and an empty 200.
          if (headers.authorization === good && (path === "/oauth/introspect" || path === "/oauth/revoke") && /(^|&)token=/.test(body)) {
            expect(res.status, label).toBe(200);
            expect(res.json, label).toEqual(path === "/oauth/introspect" ? { active: false } : {});
          } else {
            expect(res.status, label).toBeGreaterThanOrEqual(400);
            expect(res.status, label).toBeLessThan(500);
            expect(res.json.error, label).toMatch(/^[a-z_]+$/);
          }
        }
      }
    }
    for (const body of ['{"jwks":{"keys":[{"kty":"EC"}]},"token_endpoint_auth_method":"private_key_jwt"}', '{"jwks_uri":"not a url","token_endpoint_auth_method":"private_key_jwt"}', "[]", "null", '{"messenger":{"page_id":""}}']) {
      const res = await fetch(`${url}/connect/register`, { method: "POST", headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}`, "content-type": "application/json" }, body });
      expect(res.status, body).toBe(400);
    }
    const weird = await fetch(`${url}/connect/register/${"%FF".repeat(10)}`, { headers: { authorization: "Bearer x" } });
    expect([400, 401, 404]).toContain(weird.status);
  });
});

// Its own broker: the registrations above use up much of the per-IP registration limit (30 a minute).
describe("OAuth: what the process holds in memory", () => {
  const suite = runningBrokerForSuite();

  it("a client deleted is refused at once, though this process had its secret and token in memory", async () => {
    const url = suite.broker.url;
    const c = await registerClient(url, { client_name: "Bank back office", grant_types: ["client_credentials"], scope: "ledger:check" });
    const auth = { authorization: basic(c.client_id, c.client_secret!) };
    const access_token = String((await postForm(`${url}/oauth/token`, { grant_type: "client_credentials", scope: "ledger:check" }, auth)).json.access_token);
    const check = () =>
      fetch(`${url}/ledger/check`, { method: "POST", headers: { authorization: `Bearer ${access_token}`, "content-type": "application/json" }, body: JSON.stringify({ client_id: c.client_id, subject: "nobody", scope: "balance:read" }) });
    // Used twice each: the second time, the secret, the client and the token are answered from memory.
    for (let i = 0; i < 2; i++) {
      expect((await postForm(`${url}/oauth/introspect`, { token: access_token }, auth)).json.active).toBe(true);
      expect((await check()).status).toBe(200);
    }
    const del = await fetch(c.registration_client_uri!, { method: "DELETE", headers: { authorization: `Bearer ${c.registration_access_token}` } });
    expect(del.status).toBe(204);
    expect((await postForm(`${url}/oauth/introspect`, { token: access_token }, auth)).status).toBe(401);
    expect((await postForm(`${url}/oauth/token`, { grant_type: "client_credentials", scope: "ledger:check" }, auth)).status).toBe(401);
    expect((await check()).status).toBe(401);
  });
});
