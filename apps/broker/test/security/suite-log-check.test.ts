// Secrecy over the whole suite: every broker the tests build logs to the run's directory and
// records the secrets it handles; the run's global teardown fails if any log line carries one
// (test/support/suite-log-global.ts). This proves that check can fail: a broker writing to a
// directory of its own logs a secret it issued, in each form a careless log line would take.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testConfig, TEST_REGISTRATION_TOKEN } from "../support/app.ts";
import { findLeaks, fingerprints } from "../support/suite-log-scan.ts";
import { buildTestApp } from "../support/suite-log.ts";

describe("the suite's log secrecy check", () => {
  const dir = mkdtempSync(join(tmpdir(), "lb-suite-log-check-"));
  let db: TestDb;
  let app: FastifyInstance;
  let issued: { client_id: string; client_secret: string; registration_access_token: string; access_token: string };
  beforeAll(async () => {
    db = await createTestDb();
    app = await buildTestApp({ config: testConfig(), db, logger: false }, dir);
    await app.ready();
    const registered = await app.inject({ method: "POST", url: "/connect/register", headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` }, payload: { client_name: "Careless Bank", grant_types: ["client_credentials"], scope: "ledger:check" } });
    expect(registered.statusCode).toBe(201);
    const { client_id, client_secret, registration_access_token } = registered.json();
    const basic = Buffer.from(`${client_id}:${client_secret}`).toString("base64");
    const minted = await app.inject({ method: "POST", url: "/oauth/token", headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials&scope=ledger%3Acheck" });
    expect(minted.statusCode).toBe(200);
    issued = { client_id, client_secret, registration_access_token, access_token: minted.json().access_token };
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it("finds nothing while the broker logs no secret, yet has recorded the secrets it issued and was sent", () => {
    const { leaks, secrets, lines } = findLeaks(dir);
    expect(leaks).toEqual([]);
    expect(lines).toBeGreaterThan(0);
    // client secret, registration token, access token, the registration bearer, the Basic credential
    expect(secrets).toBeGreaterThanOrEqual(5);
  });

  it.each([
    ["client_secret", (s: typeof issued) => `client ${s.client_id} secret=${s.client_secret}`],
    ["registration_access_token", (s: typeof issued) => JSON.stringify({ headers: { authorization: `Bearer ${s.registration_access_token}` } })],
    ["access_token", (s: typeof issued) => `token ${s.access_token}.`],
    ["authorization", (s: typeof issued) => `basic ${Buffer.from(`${s.client_id}:${s.client_secret}`).toString("base64")}`],
  ])("fails when a log line carries the %s", async (_kind, line) => {
    const leakDir = mkdtempSync(join(tmpdir(), "lb-suite-log-leak-"));
    const careless = await buildTestApp({ config: testConfig(), db, logger: false }, leakDir);
    try {
      await careless.ready();
      // The issued secrets cross this broker's boundary too, so it records them.
      const read = await careless.inject({ method: "GET", url: `/connect/register/${issued.client_id}`, headers: { authorization: `Bearer ${issued.registration_access_token}` } });
      expect(read.statusCode).toBe(200);
      const basic = Buffer.from(`${issued.client_id}:${issued.client_secret}`).toString("base64");
      const introspected = await careless.inject({ method: "POST", url: "/oauth/introspect", headers: { authorization: `Basic ${basic}`, "content-type": "application/x-www-form-urlencoded" }, payload: `token=${issued.access_token}` });
      expect(introspected.json()).toMatchObject({ active: true });
      expect(findLeaks(leakDir).leaks).toEqual([]);
      careless.log.warn(line(issued));
      const { leaks } = findLeaks(leakDir);
      expect(leaks).toHaveLength(1);
      // The report names the secret's kind, never the secret.
      expect(leaks[0]!.line).not.toContain(issued.client_secret);
    } finally {
      await careless.close();
    }
  });

  it("knows a JWT by its signature, and a random secret by its runs of base64url", () => {
    expect(fingerprints("eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg")).toEqual(["c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"]);
    expect(fingerprints("urn:ietf:params:oauth:request_uri:abcdefghijklmnop")).toEqual(["abcdefghijklmnop"]);
    expect(fingerprints("short")).toEqual([]);
  });
});
