// Finding 1: a NUL byte anywhere a caller can put one answered 500 and logged Postgres error
// 22021 with a stack. Every such request is now a 400 in the route's own error shape, logged at
// info level, on PGlite and on Postgres.
import Fastify, { type InjectOptions } from "fastify";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorHandlerPlugin } from "../../src/plugins/error-handler.ts";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "../support/app.ts";

const lines: string[] = [];
let broker: TestBroker;
let checkToken: string;
const operator = { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` };
const nulBasic = `Basic ${Buffer.from("\0:x").toString("base64")}`;
const form = { "content-type": "application/x-www-form-urlencoded" };

beforeAll(async () => {
  broker = await startTestBroker({ env: { LOG_LEVEL: "info" }, deps: { logger: true, logStream: { write: (line: string) => void lines.push(line) } } });
  await broker.db.prisma.client.create({ data: { id: "bank-a", name: "Bank A", registrationTokenHash: "h", tokenEndpointAuthMethod: "client_secret_basic" } });
  checkToken = (await broker.app.modules.oauth.accessTokens.issue({ clientId: "bank-a", subject: "bank-a", scopes: ["ledger:check"] })).token;
});
afterAll(() => broker?.close());

async function expect400(request: InjectOptions) {
  const res = await broker.app.inject(request);
  expect(res.statusCode, `${res.statusCode} ${res.body}`).toBe(400);
  return res;
}

describe("control characters are refused with 400, never 500", () => {
  it("in Basic credentials on the token, PAR and introspection endpoints", async () => {
    for (const url of ["/oauth/token", "/par", "/oauth/introspect", "/oauth/revoke"]) {
      const res = await broker.app.inject({ method: "POST", url, headers: { authorization: nulBasic, ...form }, payload: "grant_type=client_credentials&token=x" });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: "invalid_client" });
    }
  });

  it("in a client assertion's iss", async () => {
    const { privateKey } = await generateKeyPair("ES256");
    const assertion = await new SignJWT({ jti: "j1" }).setProtectedHeader({ alg: "ES256" }).setIssuer("\0").setSubject("\0").setAudience(broker.config.publicUrl).setIssuedAt().setExpirationTime("1m").sign(privateKey);
    const res = await broker.app.inject({
      method: "POST",
      url: "/oauth/token",
      headers: form,
      payload: new URLSearchParams({ grant_type: "client_credentials", client_assertion_type: "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", client_assertion: assertion }).toString(),
    });
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ error: "invalid_client" });
  });

  it("in a client id path parameter of the registration management endpoints", async () => {
    for (const method of ["GET", "DELETE"] as const) {
      const res = await expect400({ method, url: "/connect/register/%00", headers: { authorization: "Bearer not-a-token" } });
      expect(res.json()).toMatchObject({ error: "invalid_request" });
    }
  });

  it("in a registration body and a PUT", async () => {
    const key = await exportJWK((await generateKeyPair("ES256", { extractable: true })).publicKey);
    const metadata = { client_name: "Bank\u0000", token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [key] }, grant_types: ["client_credentials"], scope: "ledger:check" };
    const before = await broker.db.prisma.client.count();
    await expect400({ method: "POST", url: "/connect/register", headers: operator, payload: metadata });
    await expect400({ method: "PUT", url: "/connect/register/bank-a", headers: { authorization: "Bearer x" }, payload: { ...metadata, client_id: "bank-a" } });
    expect(await broker.db.prisma.client.count()).toBe(before);
  });

  it("in the ledger's subject, link_id, psid and cursor, and a consent id", async () => {
    for (const name of ["subject", "link_id", "psid", "cursor"]) {
      const res = await expect400({ method: "GET", url: `/ledger/consents?${name}=%00`, headers: operator });
      expect(res.json()).toMatchObject({ error: "invalid_request", request_id: expect.any(String) });
    }
    await expect400({ method: "GET", url: "/ledger/consents/%00", headers: operator });
    await expect400({ method: "GET", url: "/ledger/consents/%00/receipt", headers: operator });
    const check = { authorization: `Bearer ${checkToken}` };
    for (const who of [{ link_id: "\0" }, { client_id: "bank-a", subject: "\0" }, { client_id: "bank-a", psid: "a\u0000" }]) {
      await expect400({ method: "POST", url: "/ledger/check", headers: check, payload: { ...who, scope: "balance:read" } });
    }
  });

  it("in a page's query", async () => {
    const res = await expect400({ method: "GET", url: "/link?client_id=%00&account_linking_token=x&redirect_uri=x" });
    expect(res.headers["content-type"]).toMatch(/text\/html/);
  });

  it("behind the input guard: text the database refuses is still a 400 (backstop)", async () => {
    const app = Fastify({ logger: false });
    await app.register(errorHandlerPlugin);
    app.get("/probe", async () => broker.db.prisma.client.findFirst({ where: { id: "\0" } }));
    const res = await app.inject({ url: "/probe" });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: "invalid_request" });
    await app.close();
  });

  it("and none of them is logged as an error with a stack", () => {
    const logged = lines.map((l) => JSON.parse(l) as { level: number; err?: unknown });
    expect(logged.length).toBeGreaterThan(10);
    expect(logged.filter((l) => l.level >= 50 || l.err)).toEqual([]);
  });
});
