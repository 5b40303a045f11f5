import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { entryHash, GENESIS_HASH, type ConsentLedger } from "@link-broker/consent-ledger";
import { createLedgerClient, LedgerClientError } from "@link-broker/consent-ledger/client";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWK } from "jose";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ledgerRoutes } from "../src/ledger/ledger-routes.ts";
import { errorHandlerPlugin } from "../src/plugins/error-handler.ts";
import { systemClock } from "../src/clock.ts";
import { createSealer } from "../src/crypto/seal.ts";
import { createBrokerLedgerKeys } from "../src/ledger/ledger-module.ts";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "./support/app.ts";
import { createStaff, signIn } from "./support/staff.ts";

// A compliance staff member's console session reads the audit routes; /ledger/check takes a
// bank's `ledger:check` access token (bank-a's, minted in beforeAll).
const auth: Record<string, string> = {};
let checkAuth: Record<string, string>;
let bankAToken: string;
let broker: TestBroker;
let ledger: ConsentLedger;

const ledgerKeys = async () => (await broker.app.inject({ url: "/ledger/keys.json" })).json() as { keys: JWK[] };

beforeAll(async () => {
  broker = await startTestBroker();
  ledger = broker.app.modules.ledger.ledger;
  await ledger.ready();
  await broker.db.prisma.client.create({ data: { id: "bank-a", name: "Bank A", registrationTokenHash: "h", tokenEndpointAuthMethod: "client_secret_basic" } });
  bankAToken = (await broker.app.modules.oauth.accessTokens.issue({ clientId: "bank-a", subject: "bank-a", scopes: ["ledger:check"] })).token;
  checkAuth = { authorization: `Bearer ${bankAToken}` };
  await createStaff(broker.db, "auditor@bank.example", "auditor");
  auth.cookie = (await signIn(broker.app, "auditor@bank.example")).cookie;
}, 180_000); // a broker, a bank and a staff sign-in: slow on a loaded machine
afterAll(() => broker?.close());

const grant = (subject: string, over: Record<string, unknown> = {}) =>
  ledger.grant({ clientId: "bank-a", subject, linkId: `link-${subject}`, psid: `psid-${subject}`, scopes: ["balance:read"], actor: "customer", ...over });
const check = (body: unknown, headers: Record<string, string> = checkAuth) => broker.app.inject({ method: "POST", url: "/ledger/check", headers, payload: body as object });

describe("ledger routes: authentication", () => {
  it("refuses a missing or wrong token with a JSON error", async () => {
    for (const headers of [{} as Record<string, string>, { authorization: "Bearer wrong-token" }, { authorization: `Basic ${TEST_REGISTRATION_TOKEN}` }, { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` }, auth]) {
      const res = await check({ link_id: "x", scope: "balance:read" }, headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: "invalid_token", request_id: expect.any(String) });
    }
    for (const url of ["/ledger/consents", "/ledger/export", "/ledger/verify"]) {
      expect((await broker.app.inject({ url })).statusCode).toBe(401);
      // The operator's registration token is no compliance credential.
      expect((await broker.app.inject({ url, headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` } })).statusCode).toBe(401);
      expect((await broker.app.inject({ url, headers: { cookie: "lb_staff=not-a-session-value-at-all" } })).statusCode).toBe(401);
    }
  });

  it("needs the right scope: a ledger:check token cannot read the audit routes", async () => {
    const res = await broker.app.inject({ url: "/ledger/consents", headers: checkAuth });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toMatchObject({ error: "insufficient_scope" });
  });
});

describe("POST /ledger/check", () => {
  it("answers by link_id, (client_id, subject) and (client_id, psid)", async () => {
    const g = await grant("alice");
    const expected = { allowed: true, consent_id: g.consentId, expires_at: g.expiresAt.toISOString(), reason: "active" };
    for (const who of [{ link_id: "link-alice" }, { client_id: "bank-a", subject: "alice" }, { client_id: "bank-a", psid: "psid-alice" }]) {
      const res = await check({ ...who, scope: "balance:read", purpose: "account_servicing" });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toEqual(expected);
    }
    expect((await check({ link_id: "link-alice", scope: "alerts:fraud" })).json().reason).toBe("scope_not_granted");
    expect((await check({ link_id: "link-alice", scope: "balance:read", purpose: "advertising" })).json()).toMatchObject({ allowed: false, reason: "purpose_forbidden" });
    expect((await check({ link_id: "nobody", scope: "balance:read" })).json()).toEqual({ allowed: false, consent_id: null, expires_at: null, reason: "no_consent" });
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    expect((await check({ link_id: "link-alice", scope: "balance:read" })).json().reason).toBe("withdrawn");
  });

  it("allows only granted (scope, purpose) pairs: the cross pair is scope_not_granted", async () => {
    const g = await grant("pairs-pat", { scopes: undefined, pairs: [{ scope: "balance:read", purpose: "account_servicing" }, { scope: "alerts:fraud", purpose: "fraud_alerts" }] });
    expect((await check({ link_id: "link-pairs-pat", scope: "balance:read", purpose: "account_servicing" })).json()).toMatchObject({ allowed: true, reason: "active" });
    expect((await check({ link_id: "link-pairs-pat", scope: "alerts:fraud", purpose: "fraud_alerts" })).json()).toMatchObject({ allowed: true, reason: "active" });
    expect((await check({ link_id: "link-pairs-pat", scope: "balance:read", purpose: "fraud_alerts" })).json()).toEqual({ allowed: false, consent_id: g.consentId, expires_at: g.expiresAt.toISOString(), reason: "scope_not_granted" });
    const read = (await broker.app.inject({ url: `/ledger/consents/${g.consentId}`, headers: auth })).json();
    expect(read.consent.pairs).toEqual([{ scope: "alerts:fraud", purpose: "fraud_alerts" }, { scope: "balance:read", purpose: "account_servicing" }]);
    expect(read.history[0].pairs).toEqual(read.consent.pairs);
  });

  it("answers bad input with a typed 400, never a 5xx", async () => {
    const cases: [unknown, string][] = [
      [{ link_id: "l", scope: "balance:write" }, "invalid_scope"],
      [{ link_id: "l", scope: "balance:read", purpose: "resale" }, "invalid_purpose"],
      [{ client_id: "bank-a", subject: "", scope: "balance:read" }, "invalid_subject"],
      [{ scope: "balance:read" }, "invalid_request"],
      [{ client_id: "bank-a", scope: "balance:read" }, "invalid_request"],
      [{ link_id: "l", scope: "balance:read", extra: 1 }, "invalid_request"],
      [{ link_id: { a: 1 }, scope: "balance:read" }, "invalid_request"],
    ];
    for (const [body, code] of cases) {
      const res = await check(body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json()).toMatchObject({ error: code, message: expect.any(String), request_id: expect.any(String) });
    }
    const raw = await broker.app.inject({ method: "POST", url: "/ledger/check", headers: { ...checkAuth, "content-type": "application/json" }, payload: "{not json" });
    expect(raw.statusCode).toBe(400);
  });
});

describe("audit routes", () => {
  it("lists consents with filters and pagination, and shows one with its history", async () => {
    const a = await grant("bob-1", { subject: "bob" , linkId: "link-bob-1", psid: "psid-bob" });
    const b = await grant("bob-2", { subject: "bob", linkId: "link-bob-2", psid: "psid-bob" });
    await ledger.withdraw({ consentId: a.consentId, actor: "bank", reason: "customer asked" });
    const p1 = await broker.app.inject({ url: "/ledger/consents?subject=bob&limit=1", headers: auth });
    expect(p1.statusCode).toBe(200);
    const body1 = p1.json();
    expect(body1.items).toHaveLength(1);
    const p2 = (await broker.app.inject({ url: `/ledger/consents?subject=bob&limit=1&cursor=${body1.next_cursor}`, headers: auth })).json();
    expect([body1.items[0].id, p2.items[0].id].sort()).toEqual([a.consentId, b.consentId].sort());
    expect(p2.next_cursor).toBeNull();
    const withdrawn = (await broker.app.inject({ url: "/ledger/consents?subject=bob&status=withdrawn", headers: auth })).json();
    expect(withdrawn.items.map((c: { id: string }) => c.id)).toEqual([a.consentId]);
    const one = await broker.app.inject({ url: `/ledger/consents/${a.consentId}`, headers: auth });
    expect(one.statusCode).toBe(200);
    expect(one.json().consent).toMatchObject({ id: a.consentId, status: "withdrawn", client_id: "bank-a" });
    expect(one.json().history.map((e: { action: string }) => e.action)).toEqual(["granted", "withdrawn"]);
    expect(one.json().history[1].evidence).toEqual({ reason: "customer asked" });
    expect((await broker.app.inject({ url: "/ledger/consents?limit=0", headers: auth })).statusCode).toBe(400);
    expect((await broker.app.inject({ url: "/ledger/consents?status=paused", headers: auth })).statusCode).toBe(400);
    const missing = await broker.app.inject({ url: "/ledger/consents/nope", headers: auth });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ error: "unknown_consent" });
  });

  it("returns a receipt that verifies against /ledger/keys.json, with the Kantara fields and the customer's page", async () => {
    await broker.db.prisma.client.update({ where: { id: "bank-a" }, data: { metadata: { policy_uri: "https://bank-a.example/privacy", contacts: ["privacy@bank-a.example"], client_uri: "https://bank-a.example" } } });
    const g = await grant("carol", { scopes: ["balance:read", "alerts:fraud"], evidence: { second_factor: "totp", request_id: "r-1" } });
    const res = await broker.app.inject({ url: `/ledger/consents/${g.consentId}/receipt`, headers: auth });
    expect(res.statusCode).toBe(200);
    const { receipt, receipt_url } = res.json();
    const { payload, protectedHeader } = await jwtVerify(receipt, createLocalJWKSet(await ledgerKeys()), { typ: "consent-receipt+jwt" });
    expect(protectedHeader.alg).toBe("EdDSA");
    expect(payload).toMatchObject({
      version: "KI-CR-v1.1.0",
      jurisdiction: "unspecified",
      consentTimestamp: Math.floor((await broker.db.prisma.consent.findUniqueOrThrow({ where: { id: g.consentId } })).grantedAt.getTime() / 1000),
      collectionMethod: expect.stringContaining("second factor (totp)"),
      consentReceiptID: payload.jti,
      language: "en",
      piiPrincipalId: payload.sub,
      piiControllers: [{ piiController: "Bank A", contact: "privacy@bank-a.example", email: "privacy@bank-a.example", piiControllerUrl: "https://bank-a.example" }],
      policyUrl: "https://bank-a.example/privacy",
      services: [{ service: "Bank A in Messenger", purposes: expect.arrayContaining([expect.objectContaining({ purposeCategory: ["fraud_alerts"], consentType: "EXPLICIT", primaryPurpose: true, thirdPartyDisclosure: false })]) }],
      sensitive: false,
      consent_id: g.consentId,
      controller: { name: "Bank A" },
      scopes: ["alerts:fraud", "balance:read"],
      ledger: { seq: g.seq, hash: g.hash },
      receipt_url,
    });
    expect(JSON.stringify(payload)).not.toContain("carol");
    // The customer's page: the terms in words and the JWS to keep.
    const url = new URL(receipt_url);
    const pageRes = await broker.app.inject({ url: url.pathname + url.search });
    expect(pageRes.statusCode).toBe(200);
    expect(pageRes.headers["content-type"]).toMatch(/text\/html/);
    expect(pageRes.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(pageRes.body).toContain("Bank A");
    expect(pageRes.body).toContain("Send you fraud alerts");
    expect(pageRes.body).toContain("never used for advertising");
    expect(pageRes.body).toMatch(/<code>[\w-]+\.[\w-]+\.[\w-]+<\/code>/);
  });

  it("the receipt page refuses a wrong or missing token and an unknown consent with a readable page", async () => {
    const g = await grant("grace");
    const res = await broker.app.inject({ url: `/ledger/consents/${g.consentId}/receipt`, headers: auth });
    const url = new URL(res.json().receipt_url);
    const token = url.searchParams.get("token")!;
    for (const [path, status] of [
      [`/receipts/${g.consentId}?token=${token.slice(1)}x`, 404],
      [`/receipts/${g.consentId}?token=${token}&extra=1`, 400],
      [`/receipts/${g.consentId}`, 400],
      [`/receipts/other-consent?token=${token}`, 404],
    ] as const) {
      const r = await broker.app.inject({ url: path });
      expect(r.statusCode, path).toBe(status);
      expect(r.headers["content-type"]).toMatch(/text\/html/);
      expect(r.body).not.toContain(token);
    }
  });

  it("a receipt issued before two access-token key rotations and one ledger-key rotation still verifies against /ledger/keys.json", async () => {
    const g = await grant("heidi");
    const { receipt } = (await broker.app.inject({ url: `/ledger/consents/${g.consentId}/receipt`, headers: auth })).json();
    const kid = decodeProtectedHeader(receipt).kid;
    // Ledger keys are not access-token keys: the receipt's key was never in /jwks.json.
    const accessKeys = async () => ((await broker.app.inject({ url: "/jwks.json" })).json() as { keys: JWK[] }).keys.map((k) => k.kid);
    expect(await accessKeys()).not.toContain(kid);
    await broker.app.modules.keys.keyStore.rotate();
    await broker.app.modules.keys.keyStore.rotate();
    const ring = createBrokerLedgerKeys({ db: broker.db, sealer: createSealer(broker.config.masterKey), clock: systemClock }, { cacheMs: 0 });
    const next = await ring.rotate();
    const published = await ledgerKeys();
    expect(published.keys.map((k) => k.kid)).toEqual([kid, next]);
    expect(published.keys[0]).toMatchObject({ kid, retired_at: expect.any(String), activated_at: expect.any(String) });
    expect(published.keys[1]).toMatchObject({ kid: next, retired_at: null });
    const { payload } = await jwtVerify(receipt, createLocalJWKSet(published), { typ: "consent-receipt+jwt" });
    expect(payload).toMatchObject({ consent_id: g.consentId, ledger: { seq: g.seq } });
  });

  it("publishes the ledger keys publicly, cacheable, apart from the access-token keys", async () => {
    const res = await broker.app.inject({ url: "/ledger/keys.json?anything=ignored" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["cache-control"]).toBe("public, max-age=300");
    const { keys } = res.json();
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) {
      expect(k).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig", activated_at: expect.any(String) });
      expect(k).not.toHaveProperty("d");
    }
    expect((await broker.app.inject({ method: "POST", url: "/ledger/keys.json" })).statusCode).toBe(404);
    // Both new routes are in the OpenAPI document.
    const paths = Object.keys((await broker.app.inject({ url: "/docs/json" })).json().paths);
    expect(paths).toEqual(expect.arrayContaining(["/ledger/keys.json", "/receipts/{id}", "/ledger/verify"]));
  });

  it("verifies the chain, the checkpoints and the projection", async () => {
    await ledger.checkpoint();
    const res = await broker.app.inject({ url: "/ledger/verify", headers: auth });
    expect(res.statusCode).toBe(200);
    const head = await broker.db.prisma.ledgerEntry.findFirstOrThrow({ orderBy: { seq: "desc" } });
    expect(res.json()).toEqual({ ok: true, checked: await broker.db.prisma.ledgerEntry.count(), head_seq: head.seq.toString(), head_hash: head.hash, checkpoints_verified: expect.any(Number), first_bad_seq: null, problem: null });
    expect(res.json().checkpoints_verified).toBeGreaterThan(0);
  });

  it("exports JSONL and CSV", async () => {
    const jsonl = await broker.app.inject({ url: "/ledger/export?format=jsonl", headers: auth });
    expect(jsonl.statusCode).toBe(200);
    expect(jsonl.headers["content-type"]).toMatch(/application\/x-ndjson/);
    const lines = jsonl.body
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .filter((l) => l.type === undefined);
    expect(lines.length).toBe(await broker.db.prisma.ledgerEntry.count());
    const csv = await broker.app.inject({ url: "/ledger/export?format=csv", headers: auth });
    expect(csv.headers["content-type"]).toMatch(/text\/csv/);
    expect(csv.body.trim().split("\r\n")).toHaveLength(lines.length + 1);
    // A bank-controlled value that a spreadsheet would run: exported as text.
    await ledger.grant({ clientId: "bank-a", subject: '=HYPERLINK("http://evil.example","x")', psid: "@SUM(1+1)", scopes: ["balance:read"], actor: "bank" });
    const rows = (await broker.app.inject({ url: "/ledger/export?format=csv", headers: auth })).body.trim().split("\r\n");
    expect(rows.at(-1)).toContain(`,"'=HYPERLINK(""http://evil.example"",""x"")",`);
    expect(rows.at(-1)).toContain(`,"'@SUM(1+1)",`);
    expect(rows.join("\n")).not.toMatch(/(^|,)"[=+\-@]/m);
    expect((await broker.app.inject({ url: "/ledger/export?format=xml", headers: auth })).statusCode).toBe(400);
    expect((await broker.app.inject({ url: "/ledger/export?from=yesterday", headers: auth })).statusCode).toBe(400);
  });

  it("streams a large export: the first bytes arrive before the last entry is read", { timeout: 120_000 }, async () => {
    // 5,000 chained entries written directly (fast), then the export read over a real socket.
    const head = await broker.db.prisma.ledgerEntry.findFirst({ orderBy: { seq: "desc" } });
    let prev = head?.hash ?? GENESIS_HASH;
    let seq = (head?.seq ?? 0n) + 1n;
    const rows = [];
    for (let i = 0; i < 5_000; i++, seq++) {
      const e = { seq, consentId: `bulk-${i}`, action: "granted" as const, clientId: "bank-a", subject: `bulk-${i}`, linkId: null, psid: null, scopes: ["balance:read"], purposes: ["account_servicing"], pairs: [{ scope: "balance:read", purpose: "account_servicing" }], expiresAt: new Date("2099-01-01T00:00:00.000Z"), actor: "customer", evidence: {}, recordedAt: new Date("2026-06-01T00:00:00.000Z") };
      const hash = entryHash(prev, e);
      rows.push({ ...e, prevHash: prev, hash });
      prev = hash;
    }
    for (let i = 0; i < rows.length; i += 1_000) await broker.db.prisma.ledgerEntry.createMany({ data: rows.slice(i, i + 1_000) });
    // Their projection rows, as the ledger would have written them.
    const projection = rows.map((e) => ({ id: e.consentId, clientId: e.clientId, subject: e.subject, linkId: null, psid: null, status: "active", scopes: e.scopes, purposes: e.purposes, pairs: e.pairs, expiresAt: e.expiresAt, grantedAt: e.recordedAt, updatedAt: e.recordedAt, lastSeq: e.seq }));
    for (let i = 0; i < projection.length; i += 1_000) await broker.db.prisma.consent.createMany({ data: projection.slice(i, i + 1_000) });
    await broker.db.adminQuery(`SELECT setval(pg_get_serial_sequence('ledger_entry', 'seq'), ${seq})`);
    await broker.app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = broker.app.server.address() as AddressInfo;
    const chunks: { at: number; bytes: number }[] = [];
    const t0 = performance.now();
    // The assertions run after the request: an expect thrown inside the response callback would
    // be an uncaught exception, not this test's failure.
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      httpRequest({ host: "127.0.0.1", port, path: "/ledger/export?format=jsonl", headers: auth }, (res) => {
        res.on("data", (c: Buffer) => chunks.push({ at: performance.now() - t0, bytes: c.length }));
        res.on("end", () => resolve(res.headers));
        res.on("error", reject);
      })
        .on("error", reject)
        .end();
    });
    expect(headers["transfer-encoding"]).toBe("chunked");
    const total = chunks.reduce((a, c) => a + c.bytes, 0);
    expect(chunks.length).toBeGreaterThan(5);
    expect(chunks[0]!.at).toBeLessThan(chunks[chunks.length - 1]!.at);
    // No single chunk carries more than one batch of 1,000 entries (~500 bytes each).
    expect(Math.max(...chunks.map((c) => c.bytes))).toBeLessThan(total / 3);
    expect((await ledger.verify()).ok).toBe(true);
  });
});

describe("periodic checkpoints", () => {
  it("signs the moving head on the scheduler, once per head", async () => {
    await grant("frank");
    const before = await broker.db.prisma.ledgerCheckpoint.count();
    await broker.app.modules.scheduler.run("ledger.checkpoint");
    await broker.app.modules.scheduler.run("ledger.checkpoint");
    const rows = await broker.db.prisma.ledgerCheckpoint.findMany({ orderBy: { seq: "desc" } });
    expect(rows.length).toBe(before + 1);
    const head = await broker.db.prisma.ledgerEntry.findFirstOrThrow({ orderBy: { seq: "desc" } });
    expect(rows[0]).toMatchObject({ seq: head.seq, headHash: head.hash });
    expect((await ledger.verify()).ok).toBe(true);
  });
});

describe("tenant isolation through the routes", () => {
  it("a bank's caller sees only its own consents (the shape requireScope will give)", async () => {
    const g = await grant("dave");
    const app = Fastify();
    await app.register(errorHandlerPlugin);
    const asBankB = async (request: { ledgerCaller?: unknown }) => {
      request.ledgerCaller = { role: "bank", clientId: "bank-b" };
    };
    await app.register(ledgerRoutes, { ledger, checkAuth: asBankB, auditAuth: asBankB, receiptUrl: (id) => `http://broker.test/receipts/${id}` });
    expect((await app.inject({ method: "POST", url: "/ledger/check", payload: { link_id: "link-dave", scope: "balance:read" } })).json().reason).toBe("no_consent");
    expect((await app.inject({ url: `/ledger/consents/${g.consentId}` })).statusCode).toBe(404);
    expect((await app.inject({ url: `/ledger/consents/${g.consentId}/receipt` })).statusCode).toBe(404);
    expect((await app.inject({ url: "/ledger/consents?subject=dave" })).json().items).toEqual([]);
    expect((await app.inject({ url: "/ledger/export" })).statusCode).toBe(403);
    await app.close();
  });
});

describe("remote client", () => {
  it("createLedgerClient has the same check signature and calls POST /ledger/check", async () => {
    if (!broker.app.server.listening) await broker.app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = broker.app.server.address() as AddressInfo;
    const g = await grant("erin");
    const client = createLedgerClient({ baseUrl: `http://127.0.0.1:${port}`, getAccessToken: () => bankAToken });
    expect(await client.check({ linkId: "link-erin" }, { scope: "balance:read" })).toEqual({ allowed: true, consentId: g.consentId, expiresAt: g.expiresAt, reason: "active" });
    expect((await client.check({ clientId: "bank-a", psid: "psid-erin" }, { scope: "support:chat" })).reason).toBe("scope_not_granted");
    expect((await client.check({ clientId: "bank-a", subject: "erin" }, { scope: "balance:read", purpose: "marketing" })).reason).toBe("purpose_forbidden");
    const err = await client.check({ linkId: "link-erin" }, { scope: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LedgerClientError);
    expect(err).toMatchObject({ status: 400, code: "invalid_scope" });
    const bad = createLedgerClient({ baseUrl: `http://127.0.0.1:${port}/`, getAccessToken: async () => "wrong" });
    await expect(bad.check({ linkId: "link-erin" }, { scope: "balance:read" })).rejects.toMatchObject({ status: 401 });
  });
});
