import { buildTestApp } from "./support/suite-log.ts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestBroker, TEST_REGISTRATION_TOKEN, type TestBroker } from "./support/app.ts";

describe("operations endpoints", () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker();
  });
  afterAll(() => broker?.close());

  it("answers /healthz and /readyz with 200 once migrated", async () => {
    const health = await broker.app.inject({ url: "/healthz" });
    expect(health.statusCode).toBe(200);
    // The per-start instance id lets a launcher tell this broker from another on the same port.
    expect(health.json()).toEqual({ status: "ok", instance: broker.config.instanceId });
    expect(broker.config.instanceId).toMatch(/^[0-9a-f-]{36}$/);
    const ready = await broker.app.inject({ url: "/readyz" });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toMatchObject({ status: "ready", pending_migrations: [], master_key: "ok" });
  });

  it("puts a request id on every response", async () => {
    const res = await broker.app.inject({ url: "/healthz" });
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("exposes Prometheus metrics with request counts and latencies", async () => {
    await broker.app.inject({ url: "/healthz" });
    const res = await broker.app.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/text\/plain/);
    expect(res.body).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/healthz"[^}]*\} \d+/);
    expect(res.body).toMatch(/process_cpu_user_seconds_total/);
    // The memory figures README's production section names: RSS and the V8 heap.
    for (const m of ["process_resident_memory_bytes", "nodejs_heap_size_used_bytes", "nodejs_heap_size_total_bytes", "nodejs_external_memory_bytes"]) expect(res.body).toMatch(new RegExp(`^${m} \\d`, "m"));
    // Neither /metrics itself nor an unmatched URL gets a label of its own.
    await broker.app.inject({ url: "/no-such-route-7f3a" });
    const again = await broker.app.inject({ url: "/metrics" });
    expect(again.body).not.toMatch(/route="\/metrics"/);
    expect(again.body).not.toMatch(/no-such-route-7f3a/);
  });

  it("serves the OpenAPI document and its UI", async () => {
    const doc = await broker.app.inject({ url: "/docs/json" });
    expect(doc.statusCode).toBe(200);
    const spec = doc.json();
    expect(spec.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.paths)).toEqual(expect.arrayContaining(["/healthz", "/readyz", "/metrics"]));
    const ui = await broker.app.inject({ url: "/docs" });
    expect([200, 302]).toContain(ui.statusCode);
  });

  it("/docs sends a CSP that forbids framing, and every response forbids framing for older WebViews", async () => {
    for (const url of ["/docs", "/docs/static/index.html", "/docs/json"]) {
      const res = await broker.app.inject({ url });
      expect(res.statusCode, url).toBeLessThan(400);
      const csp = String(res.headers["content-security-policy"]);
      expect(csp, url).toMatch(/frame-ancestors 'none'/);
      expect(csp, url).toMatch(/default-src 'self'/);
      expect(csp, url).toMatch(/object-src 'none'/);
      expect(csp, url).not.toMatch(/upgrade-insecure-requests|validator\.swagger\.io/);
    }
    const samples = [
      { url: "/healthz" },
      { url: "/nope" },
      { url: "/docs" },
      { url: "/jwks.json" },
      { url: "/link" },
      { method: "POST" as const, url: "/oauth/token", payload: "grant_type=x", headers: { "content-type": "application/x-www-form-urlencoded" } },
      { method: "POST" as const, url: "/connect/register", payload: "{bad", headers: { "content-type": "application/json" } },
    ];
    for (const sample of samples) {
      const res = await broker.app.inject(sample);
      expect(res.headers["x-frame-options"], sample.url).toBe("DENY");
    }
  });

  it("answers unknown routes with the JSON error shape, never a stack", async () => {
    const res = await broker.app.inject({ url: "/nope?code=secret" });
    expect(res.statusCode).toBe(404);
    const body = res.json();
    expect(body).toEqual({ error: "not_found", message: "No route GET /nope", request_id: res.headers["x-request-id"] });
    expect(res.body).not.toContain("secret");
  });

  it("answers a malformed JSON body with 400, not 500", async () => {
    const res = await broker.app.inject({
      method: "POST",
      url: "/connect/register",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_REGISTRATION_TOKEN}` },
      payload: "{bad",
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ error: expect.any(String), error_description: expect.any(String) });
    expect(res.body).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(await broker.db.prisma.client.count()).toBe(0);
  });

  it("reports not ready when the database is gone", async () => {
    const { createTestDb } = await import("@link-broker/db/testing");
    const db = await createTestDb();
    const app = await buildTestApp({ config: broker.config, db, logger: false });
    await db.drop();
    const res = await app.inject({ url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(res.json().status).toBe("database_unreachable");
    await app.close();
  });
});
