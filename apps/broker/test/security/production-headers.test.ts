// Finding 6: no HSTS in production, a page CSP whose form-action allowed http://localhost:* in
// production, and /docs and /metrics open to anyone.
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { buildMetricsListener } from "../../src/ops/metrics-listener.ts";
import { startTestBroker, type TestBroker } from "../support/app.ts";

const production = { NODE_ENV: "production", DATABASE_URL: "postgres://unused@127.0.0.1:5432/unused", PUBLIC_URL: "https://broker.example" };
let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

describe("production headers", () => {
  it("HSTS on every answer in production, none in development (http://localhost)", async () => {
    broker = await startTestBroker({ env: production });
    for (const url of ["/healthz", "/.well-known/oauth-authorization-server", "/link", "/nowhere"]) {
      const res = await broker.app.inject({ url });
      expect(res.headers["strict-transport-security"], url).toBe("max-age=31536000; includeSubDomains");
    }
    await broker.close();
    broker = await startTestBroker();
    expect((await broker.app.inject({ url: "/healthz" })).headers["strict-transport-security"]).toBeUndefined();
  });

  it("a page's form-action names only the broker and Messenger's redirect origins, never localhost", async () => {
    broker = await startTestBroker({ env: production });
    const page = await broker.app.inject({ url: "/link?client_id=nobody" });
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    const csp = String(page.headers["content-security-policy"]);
    expect(csp).toContain("form-action 'self' https://www.facebook.com;");
    expect(csp).not.toMatch(/localhost|127\.0\.0\.1|http:|https: /);
    const error = await broker.app.inject({ url: "/oauth/token" });
    expect(String(error.headers["content-security-policy"] ?? "")).not.toContain("localhost");
  });
});

describe("operational endpoints", () => {
  it("/docs and /metrics are off in production unless asked for", async () => {
    broker = await startTestBroker({ env: production });
    expect((await broker.app.inject({ url: "/docs" })).statusCode).toBe(404);
    expect((await broker.app.inject({ url: "/docs/json" })).statusCode).toBe(404);
    expect((await broker.app.inject({ url: "/metrics" })).statusCode).toBe(404);
    await broker.close();
    broker = await startTestBroker({ env: { ...production, BROKER_DOCS: "true" } });
    expect((await broker.app.inject({ url: "/docs/json" })).statusCode).toBe(200);
  });

  it("METRICS_TOKEN: /metrics answers only its bearer token", async () => {
    const token = randomBytes(32).toString("base64url");
    broker = await startTestBroker({ env: { ...production, METRICS_TOKEN: token } });
    for (const authorization of [undefined, "Bearer wrong", `Basic ${token}`, `Bearer ${token}x`]) {
      const res = await broker.app.inject({ url: "/metrics", headers: authorization ? { authorization } : {} });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: "unauthorized" });
    }
    const ok = await broker.app.inject({ url: "/metrics", headers: { authorization: `Bearer ${token}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain("http_request_duration_seconds");
  });

  it("METRICS_PORT: /metrics only on the operations listener", async () => {
    broker = await startTestBroker({ env: { ...production, METRICS_PORT: "9464" } });
    expect((await broker.app.inject({ url: "/metrics" })).statusCode).toBe(404);
    await broker.app.inject({ url: "/healthz" });
    const ops = await buildMetricsListener(broker.app.metricsRegistry);
    const res = await ops.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} 1/);
    expect((await ops.inject({ url: "/healthz" })).statusCode).toBe(404);
    await ops.close();
  });

  it("in development both stay open, as before", async () => {
    broker = await startTestBroker();
    expect((await broker.app.inject({ url: "/metrics" })).statusCode).toBe(200);
    expect((await broker.app.inject({ url: "/docs/json" })).statusCode).toBe(200);
  });
});
