import { request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import { entryHash, GENESIS_HASH, type ConsentLedger } from "@link-broker/consent-ledger";
import { createLedgerClient, LedgerClientError } from "@link-broker/consent-ledger/client";
import { CompactSign, createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JWK } from "jose";
import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scheduleCheckpoints } from "../src/ledger/broker-ledger.ts";
import { ledgerRoutes } from "../src/ledger/ledger-routes.ts";
import { errorHandlerPlugin } from "../src/plugins/error-handler.ts";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "./support/app.ts";

// The operator's token is the compliance credential on the read routes; /ledger/check takes a
// bank's `ledger:check` access token (bank-a's, minted in beforeAll).
const auth = { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` };
let checkAuth: Record<string, string>;
let bankAToken: string;
let broker: TestBroker;
let ledger: ConsentLedger;
let jwks: { keys: JWK[] };

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256" }] };
  const ledgerSigner = {
    sign: (payload: Record<string, unknown>, o?: { typ?: string }) => new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: "ES256", kid: "k1", typ: o?.typ }).sign(privateKey),
  };
  broker = await startTestBroker({ deps: { ledgerSigner } });
  ledger = broker.app.broker.ledger;
  await ledger.ready();
  await broker.db.prisma.client.create({ data: { id: "bank-a", name: "Bank A", registrationTokenHash: "h", tokenEndpointAuthMethod: "client_secret_basic" } });
  bankAToken = (await broker.app.oauth.accessTokens.issue({ clientId: "bank-a", subject: "bank-a", scopes: ["ledger:check"] })).token;
  checkAuth = { authorization: `Bearer ${bankAToken}` };
});
afterAll(() => broker?.close());

const grant = (subject: string, over: Record<string, unknown> = {}) =>
  ledger.grant({ clientId: "bank-a", subject, linkId: `link-${subject}`, psid: `psid-${subject}`, scopes: ["balance:read"], actor: "customer", ...over });
const check = (body: unknown, headers: Record<string, string> = checkAuth) => broker.app.inject({ method: "POST", url: "/ledger/check", headers, payload: body as object });

describe("ledger routes: authentication", () => {
  it("refuses a missing or wrong token with a JSON error", async () => {
    for (const headers of [{} as Record<string, string>, { authorization: "Bearer wrong-token" }, { authorization: `Basic ${TEST_REGISTRATION_TOKEN}` }, auth]) {
      const res = await check({ link_id: "x", scope: "balance:read" }, headers);
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: "invalid_token", request_id: expect.any(String) });
    }
    expect((await broker.app.inject({ url: "/ledger/consents" })).statusCode).toBe(401);
    expect((await broker.app.inject({ url: "/ledger/export" })).statusCode).toBe(401);
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

  it("returns a receipt that verifies against the JWKS", async () => {
    const g = await grant("carol", { scopes: ["balance:read", "alerts:fraud"] });
    const res = await broker.app.inject({ url: `/ledger/consents/${g.consentId}/receipt`, headers: auth });
    expect(res.statusCode).toBe(200);
    const { payload } = await jwtVerify(res.json().receipt, createLocalJWKSet(jwks), { typ: "consent-receipt+jwt" });
    expect(payload).toMatchObject({ consent_id: g.consentId, controller: { name: "Bank A" }, scopes: ["alerts:fraud", "balance:read"], ledger: { seq: g.seq, hash: g.hash } });
    expect(JSON.stringify(payload)).not.toContain("carol");
  });

  it("verifies the chain", async () => {
    const res = await broker.app.inject({ url: "/ledger/verify", headers: auth });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ ok: true, checked: await broker.db.prisma.ledgerEntry.count() });
  });

  it("exports JSONL and CSV", async () => {
    const jsonl = await broker.app.inject({ url: "/ledger/export?format=jsonl", headers: auth });
    expect(jsonl.statusCode).toBe(200);
    expect(jsonl.headers["content-type"]).toMatch(/application\/x-ndjson/);
    const lines = jsonl.body.trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.length).toBe(await broker.db.prisma.ledgerEntry.count());
    const csv = await broker.app.inject({ url: "/ledger/export?format=csv", headers: auth });
    expect(csv.headers["content-type"]).toMatch(/text\/csv/);
    expect(csv.body.trim().split("\r\n")).toHaveLength(lines.length + 1);
    expect((await broker.app.inject({ url: "/ledger/export?format=xml", headers: auth })).statusCode).toBe(400);
    expect((await broker.app.inject({ url: "/ledger/export?from=yesterday", headers: auth })).statusCode).toBe(400);
  });

  it("streams a large export: the first bytes arrive before the last entry is read", async () => {
    // 5,000 chained entries written directly (fast), then the export read over a real socket.
    const head = await broker.db.prisma.ledgerEntry.findFirst({ orderBy: { seq: "desc" } });
    let prev = head?.hash ?? GENESIS_HASH;
    let seq = (head?.seq ?? 0n) + 1n;
    const rows = [];
    for (let i = 0; i < 5_000; i++, seq++) {
      const e = { seq, consentId: `bulk-${i}`, action: "granted" as const, clientId: "bank-a", subject: `bulk-${i}`, linkId: null, psid: null, scopes: ["balance:read"], purposes: ["account_servicing"], expiresAt: new Date("2027-01-01T00:00:00.000Z"), actor: "customer", evidence: {}, recordedAt: new Date("2026-06-01T00:00:00.000Z") };
      const hash = entryHash(prev, e);
      rows.push({ ...e, prevHash: prev, hash });
      prev = hash;
    }
    for (let i = 0; i < rows.length; i += 1_000) await broker.db.prisma.ledgerEntry.createMany({ data: rows.slice(i, i + 1_000) });
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
  it("signs the moving head on a schedule, once per head", async () => {
    await grant("frank");
    const before = await broker.db.prisma.ledgerCheckpoint.count();
    const stop = scheduleCheckpoints(ledger, 20, (err) => {
      throw err;
    });
    await new Promise((r) => setTimeout(r, 150));
    stop();
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
    await app.register(ledgerRoutes, { ledger, checkAuth: asBankB, auditAuth: asBankB });
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
