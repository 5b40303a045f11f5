// Property-based fuzzing of every JSON and form endpoint and every page form. For any input:
//   1. the answer is never a 5xx;
//   2. a 4xx changes nothing (row counts of every table a request could write, and the ledger head);
//   3. the body has the declared shape: RFC 6749 JSON on OAuth endpoints, { error, message,
//      request_id } on other JSON endpoints, an HTML page on pages;
//   4. every answer, 2xx included, is what the OpenAPI document declares for its route: a
//      declared status, and a JSON body that matches the declared schema (ajv). Each property
//      also produces well-formed requests, so that 2xx bodies are checked, and counts them.
// CI runs a fixed seed and a bounded number of runs; `pnpm --filter @link-broker/broker fuzz`
// runs longer (FUZZ_RUNS, FUZZ_SEED override both).
import fc from "fast-check";
import type { InjectOptions } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "../support/app.ts";
import { basic } from "../support/oauth.ts";
import { createResponseChecker } from "../support/response-schema.ts";

const SEED = Number(process.env.FUZZ_SEED ?? 20261203);
const RUNS = Number(process.env.FUZZ_RUNS ?? 25);

let broker: TestBroker;
let client: { client_id: string; client_secret: string; registration_access_token: string };
let checkToken: string;
let auditToken: string;
/** Introspected and revoked by fuzzing (the other tokens must stay live). */
let spareToken: string;
let checkResponse: ReturnType<typeof createResponseChecker>;
/** 2xx bodies checked against their schema, per route: a property that never reached one proves nothing. */
const validated2xx = new Map<string, number>();

beforeAll(async () => {
  // Limits high enough that fuzzing measures input handling, not the rate limiter.
  const generous = { perIp: { max: 1_000_000, windowSeconds: 10 }, perClient: { max: 1_000_000, windowSeconds: 10 } };
  broker = await startTestBroker({ deps: { oauth: { rateLimits: { token: generous, par: generous, introspect: generous, revoke: generous, register: { perIp: generous.perIp } } } } });
  const res = await broker.app.inject({
    method: "POST",
    url: "/connect/register",
    headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` },
    payload: { client_name: "Fuzz Bank", grant_types: ["authorization_code", "refresh_token", "client_credentials"], scope: "balance:read ledger:check" },
  });
  client = res.json();
  checkToken = (await broker.app.modules.oauth.accessTokens.issue({ clientId: client.client_id, subject: client.client_id, scopes: ["ledger:check"] })).token;
  auditToken = (await broker.app.modules.oauth.accessTokens.issue({ clientId: client.client_id, subject: client.client_id, scopes: ["ledger:audit"] })).token;
  spareToken = (await broker.app.modules.oauth.accessTokens.issue({ clientId: client.client_id, subject: client.client_id, scopes: ["ledger:check"] })).token;
  checkResponse = createResponseChecker(broker.app);
}, 60_000);
afterAll(() => broker?.close());

/** Everything a refused request must leave as it was. */
async function snapshot() {
  const p = broker.db.prisma;
  const [clients, pars, codes, grants, access, refresh, links, attempts, factors, entries, consents] = await Promise.all([
    p.client.count(),
    p.pushedAuthorizationRequest.count(),
    p.authorizationCode.count(),
    p.grant.count(),
    p.accessToken.count(),
    p.refreshToken.count(),
    p.link.count(),
    p.linkAttempt.count(),
    p.totpFactor.count(),
    p.ledgerEntry.count(),
    p.consent.count(),
  ]);
  const head = await p.ledgerEntry.findFirst({ orderBy: { seq: "desc" }, select: { hash: true } });
  return { clients, pars, codes, grants, access, refresh, links, attempts, factors, entries, consents, head: head?.hash ?? null };
}

/** Invariant 4: the answer is what the OpenAPI document declares for the route. */
function expectDeclared(request: InjectOptions, res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  const { problem, route, validated } = checkResponse(String(request.method), String(request.url), res);
  expect(problem, `${request.method} ${String(request.url).slice(0, 80)}`).toBeUndefined();
  if (validated && res.statusCode < 300) validated2xx.set(`${request.method} ${route}`, (validated2xx.get(`${request.method} ${route}`) ?? 0) + 1);
}

/** "declared": only what the OpenAPI document declares for the route (invariant 4). */
type Shape = "oauth" | "json" | "page" | "declared";
async function expectInvariants(request: InjectOptions, shape: Shape) {
  const before = await snapshot();
  const res = await broker.app.inject(request);
  const where = `${request.method} ${String(request.url).slice(0, 80)} → ${res.statusCode}`;
  expect(res.statusCode, where).toBeLessThan(500);
  expectDeclared(request, res);
  if (res.statusCode < 400) return;
  expect(await snapshot(), where).toEqual(before);
  if (shape === "page") {
    expect(res.headers["content-type"], where).toMatch(/^text\/html/);
    return;
  }
  if (shape === "declared") return;
  const body = res.json();
  const keys = Object.keys(body).sort();
  if (shape === "oauth") expect(keys, where).toEqual(["error", "error_description"]);
  else expect(keys, where).toEqual(["error", "message", "request_id"]);
  expect(typeof body.error, where).toBe("string");
}

const hostile = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.constantFrom("' OR '1'='1", "<script>alert(1)</script>", "\u0000", "%00", "../../etc/passwd", "advertising", "a".repeat(5000), "", " ", "null", "{}", "[]", "1e309", "-1", "ledger:check", "S256", "plain"),
);
const name = fc.oneof(
  fc.constantFrom("grant_type", "code", "code_verifier", "refresh_token", "scope", "token", "token_type_hint", "client_id", "client_assertion", "client_assertion_type", "code_challenge", "code_challenge_method", "purpose", "consent_duration_days", "optional_scope", "redirect_uri", "request_uri"),
  fc.string({ maxLength: 12 }),
);
const form = fc.dictionary(name, fc.oneof(hostile, fc.array(hostile, { maxLength: 3 })), { maxKeys: 8 });
const toForm = (fields: Record<string, unknown>) => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) params.append(k, String(one));
  return params.toString();
};
const json = fc.jsonValue({ maxDepth: 3 });
const jsonObject = fc.oneof(json, fc.dictionary(fc.constantFrom("client_name", "scope", "grant_types", "jwks", "jwks_uri", "messenger", "bank_idp", "purposes", "client_id", "link_id", "subject", "psid", "purpose", "token_endpoint_auth_method"), json, { maxKeys: 6 }));
const options = { seed: SEED, numRuns: RUNS, endOnFailure: true };

// Well-formed requests with arbitrary values, to reach the 2xx answers.
const text = fc.string({ minLength: 1, maxLength: 30 }).filter((t) => t.trim().length > 0 && ![...t].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f));
const registration = fc.record(
  {
    client_name: text,
    grant_types: fc.subarray(["authorization_code", "refresh_token", "client_credentials"] as const, { minLength: 1 }),
    scope: fc.subarray(["balance:read", "transactions:read", "ledger:check", "ledger:audit"] as const, { minLength: 1 }).map((s) => s.join(" ")),
    contacts: fc.array(fc.emailAddress(), { maxLength: 2 }),
  },
  { requiredKeys: ["client_name"] },
);
const checkBody = fc.record({ client_id: fc.oneof(fc.constant("self"), text), psid: text, scope: fc.constantFrom("balance:read", "transactions:read"), purpose: fc.option(text, { nil: undefined }) }, { requiredKeys: ["psid", "scope"] });
const consentsQuery = fc.record({ status: fc.constantFrom("active", "withdrawn", "expired"), psid: text, subject: text, limit: fc.integer({ min: 1, max: 500 }).map(String) }, { requiredKeys: [] });

/** The 2xx bodies a property must have checked, once it has run. */
function expectValidated(...routes: string[]) {
  for (const r of routes) expect(validated2xx.get(r) ?? 0, `2xx bodies of ${r} checked against the schema`).toBeGreaterThan(0);
}

describe("fuzzing: no 5xx, no change after a 4xx, the declared error shape", () => {
  it("OAuth form endpoints (token, PAR, introspect, revoke), authenticated and not", async () => {
    const auth = basic(client.client_id, client.client_secret);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/oauth/token", "/par", "/oauth/introspect", "/oauth/revoke"), form, fc.boolean(), async (url, fields, authenticated) => {
        const headers = { "content-type": "application/x-www-form-urlencoded", ...(authenticated ? { authorization: auth } : {}) };
        await expectInvariants({ method: "POST", url, headers, payload: toForm(fields) }, "oauth");
      }),
      options,
    );
    // Introspection and revocation answer 200 to any authenticated request with a token.
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("/oauth/introspect", "/oauth/revoke"), fc.oneof(hostile, fc.constant(spareToken)), async (url, token) => {
        await expectInvariants({ method: "POST", url, headers: { "content-type": "application/x-www-form-urlencoded", authorization: auth }, payload: toForm({ token: token || "x" }) }, "oauth");
      }),
      options,
    );
    expectValidated("POST /oauth/introspect", "POST /oauth/revoke");
  }, 120_000);

  it("registration: POST and PUT bodies, any JSON", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonObject, registration), fc.boolean(), async (body, put) => {
        const request: InjectOptions = put
          ? { method: "PUT", url: `/connect/register/${client.client_id}`, headers: { authorization: `Bearer ${client.registration_access_token}`, "content-type": "application/json" }, payload: JSON.stringify(body) }
          : { method: "POST", url: "/connect/register", headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}`, "content-type": "application/json" }, payload: JSON.stringify(body) };
        const before = await snapshot();
        const res = await broker.app.inject(request);
        expect(res.statusCode).toBeLessThan(500);
        expectDeclared(request, res);
        if (res.statusCode >= 400) {
          expect(await snapshot()).toEqual(before);
          expect(Object.keys(res.json()).sort()).toEqual(["error", "error_description"]);
        }
      }),
      options,
    );
    expectValidated("POST /connect/register");
  }, 120_000);

  it("ledger: POST /ledger/check bodies and GET /ledger/consents queries", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(jsonObject, checkBody), fc.oneof(form, consentsQuery), fc.boolean(), async (body, query, audit) => {
        const checked = body && typeof body === "object" && (body as { client_id?: unknown }).client_id === "self" ? { ...body, client_id: client.client_id } : body;
        await expectInvariants({ method: "POST", url: "/ledger/check", headers: { authorization: `Bearer ${checkToken}`, "content-type": "application/json" }, payload: JSON.stringify(checked) }, "json");
        await expectInvariants({ method: "GET", url: `/ledger/consents?${toForm(query)}`, headers: { authorization: `Bearer ${audit ? auditToken : TEST_REGISTRATION_TOKEN}` } }, "json");
      }),
      options,
    );
    expectValidated("POST /ledger/check", "GET /ledger/consents");
  }, 120_000);

  it("pages: GET /link queries and the second-factor and consent forms", async () => {
    await fc.assert(
      fc.asyncProperty(form, form, fc.constantFrom("/link/2fa", "/link/consent"), async (query, fields, page) => {
        await expectInvariants({ method: "GET", url: `/link?${toForm(query)}` }, "page");
        await expectInvariants({ method: "POST", url: page, headers: { "content-type": "application/x-www-form-urlencoded", cookie: "lb_attempt=forged.value" }, payload: toForm(fields) }, "page");
      }),
      options,
    );
  }, 120_000);
});

describe("fuzzing: link management, the Messenger webhook and the console's sign-in form", () => {
  it("GET /links and DELETE /links/{id} as the bank, webhook deliveries with any body and signature, console sign-in with any fields", async () => {
    const auth = basic(client.client_id, client.client_secret);
    await fc.assert(
      fc.asyncProperty(fc.oneof(text, hostile), fc.oneof(jsonObject, hostile), hostile, form, async (value, body, signature, fields) => {
        await expectInvariants({ method: "GET", url: `/links?psid=${encodeURIComponent(value)}`, headers: { authorization: auth } }, "declared");
        await expectInvariants({ method: "DELETE", url: `/links/${encodeURIComponent(value) || "x"}`, headers: { authorization: auth } }, "declared");
        await expectInvariants({ method: "POST", url: `/messenger/webhook/${client.client_id}`, headers: { "content-type": "application/json", "x-hub-signature-256": signature }, payload: JSON.stringify(body) }, "declared");
        await expectInvariants({ method: "POST", url: "/console/login", headers: { "content-type": "application/x-www-form-urlencoded" }, payload: toForm(fields) }, "page");
      }),
      options,
    );
    expectValidated("GET /links");
  }, 120_000);
});

describe("the response check of invariant 4", () => {
  const json = { "content-type": "application/json; charset=utf-8" };
  it("refuses a body that breaks its route's schema, an undeclared status and an undeclared type", () => {
    expect(checkResponse("POST", "/oauth/introspect", { statusCode: 200, headers: json, body: '{"active":false}' })).toEqual({ route: "/oauth/introspect", validated: true });
    expect(checkResponse("POST", "/oauth/introspect", { statusCode: 200, headers: json, body: '{"active":"no"}' }).problem).toMatch(/active must be boolean/);
    expect(checkResponse("POST", "/oauth/introspect", { statusCode: 200, headers: json, body: '{"scope":"x"}' }).problem).toMatch(/must have required property 'active'/);
    expect(checkResponse("POST", "/ledger/check", { statusCode: 200, headers: json, body: '{"allowed":true,"consent_id":null,"expires_at":"soon","reason":"active"}' }).problem).toMatch(/expires_at must match format "date-time"/);
    expect(checkResponse("GET", "/ledger/consents/abc", { statusCode: 418, headers: json, body: "{}" }).problem).toMatch(/does not declare/);
    expect(checkResponse("GET", "/link", { statusCode: 200, headers: json, body: "{}" }).problem).toMatch(/declared text\/html/);
    expect(checkResponse("GET", "/nowhere", { statusCode: 404, headers: json, body: "{}" }).problem).toMatch(/not in the OpenAPI document/);
  });
});
