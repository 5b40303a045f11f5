// Finding 6: no HSTS in production, a page CSP whose form-action allowed http://localhost:* in
// production, and /docs and /metrics open to anyone.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMetricsListener } from "../../src/ops/metrics-listener.ts";
import { startTestBroker, type TestBroker } from "../support/app.ts";

const production = { NODE_ENV: "production", DATABASE_URL: "postgres://unused@127.0.0.1:5432/unused", PUBLIC_URL: "https://broker.example" };
const metricsToken = randomBytes(32).toString("base64url");
let prod: TestBroker;
let prodWithToken: TestBroker;
let prodWithPort: TestBroker;
let dev: TestBroker;
beforeAll(async () => {
  // One after another: four boots at once on a busy machine can outlast a plugin's start timeout.
  prod = await startTestBroker({ env: production });
  prodWithToken = await startTestBroker({ env: { ...production, METRICS_TOKEN: metricsToken, BROKER_DOCS: "true" } });
  prodWithPort = await startTestBroker({ env: { ...production, METRICS_PORT: "9464" } });
  dev = await startTestBroker();
}, 180_000);
afterAll(() => Promise.all([prod, prodWithToken, prodWithPort, dev].map((b) => b?.close())));

describe("production headers", () => {
  it("HSTS on every answer in production, none in development (http://localhost)", async () => {
    for (const url of ["/healthz", "/.well-known/oauth-authorization-server", "/link", "/nowhere"]) {
      const res = await prod.app.inject({ url });
      expect(res.headers["strict-transport-security"], url).toBe("max-age=31536000; includeSubDomains");
    }
    expect((await dev.app.inject({ url: "/healthz" })).headers["strict-transport-security"]).toBeUndefined();
  });

  it("a page's form-action names only the broker (and, on the linking forms, Messenger's redirect origins), never localhost", async () => {
    const page = await prod.app.inject({ url: "/link?client_id=nobody" });
    expect(page.headers["content-type"]).toMatch(/text\/html/);
    const csp = String(page.headers["content-security-policy"]);
    // A page without a form that leaves the broker allows none; the linking forms add only the
    // origins of MESSENGER_REDIRECT_ALLOWLIST (https in production: config refuses anything else).
    expect(csp).toContain("form-action 'self';");
    expect(csp).not.toMatch(/localhost|127\.0\.0\.1|http:|https: /);
    // Clickjacking (RFC 9700 §4.16): no page may be framed.
    expect(csp).toContain("frame-ancestors 'none'");
  });

  it("no CORS anywhere (FAPI 2.0: not at the authorization endpoint; nothing else needs it)", async () => {
    for (const url of ["/link?client_id=x", "/.well-known/oauth-authorization-server", "/oauth/token"]) {
      const res = await prod.app.inject({ method: url === "/oauth/token" ? "OPTIONS" : "GET", url, headers: { origin: "https://evil.example", "access-control-request-method": "POST" } });
      expect(res.headers["access-control-allow-origin"], url).toBeUndefined();
    }
  });
});

describe("operational endpoints", () => {
  it("/docs and /metrics are off in production unless asked for", async () => {
    for (const url of ["/docs", "/docs/json", "/metrics"]) expect((await prod.app.inject({ url })).statusCode, url).toBe(404);
    expect((await prodWithToken.app.inject({ url: "/docs/json" })).statusCode).toBe(200);
  });

  it("METRICS_TOKEN: /metrics answers only its bearer token", async () => {
    for (const authorization of [undefined, "Bearer wrong", `Basic ${metricsToken}`, `Bearer ${metricsToken}x`]) {
      const res = await prodWithToken.app.inject({ url: "/metrics", headers: authorization ? { authorization } : {} });
      expect(res.statusCode).toBe(401);
      expect(res.json()).toMatchObject({ error: "unauthorized" });
    }
    const ok = await prodWithToken.app.inject({ url: "/metrics", headers: { authorization: `Bearer ${metricsToken}` } });
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toContain("http_request_duration_seconds");
  });

  it("METRICS_PORT: /metrics only on the operations listener", async () => {
    expect((await prodWithPort.app.inject({ url: "/metrics" })).statusCode).toBe(404);
    await prodWithPort.app.inject({ url: "/healthz" });
    const ops = await buildMetricsListener(prodWithPort.app.metricsRegistry);
    const res = await ops.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/http_request_duration_seconds_count\{method="GET",route="\/healthz",status_code="200"\} 1/);
    expect((await ops.inject({ url: "/healthz" })).statusCode).toBe(404);
    await ops.close();
  });

  it("in development both stay open, as before", async () => {
    expect((await dev.app.inject({ url: "/metrics" })).statusCode).toBe(200);
    expect((await dev.app.inject({ url: "/docs/json" })).statusCode).toBe(200);
  });
});
