import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./support/suite-log.ts";
import { testConfig } from "./support/app.ts";
import { basic, registerClient, startRunningBroker, type RunningBroker } from "./support/oauth.ts";

describe("OAuth rate limits shared through Postgres", () => {
  let broker: RunningBroker;
  const limits = { token: { perIp: { max: 1000, windowSeconds: 60 }, perClient: { max: 5, windowSeconds: 60 } }, register: { perIp: { max: 1000, windowSeconds: 60 } } };
  beforeAll(async () => {
    broker = await startRunningBroker({ deps: { oauth: { rateLimits: limits } } });
  });
  afterAll(() => broker?.close());

  it("counts a client's requests across two broker processes on one database", async () => {
    const c = await registerClient(broker.url, { grant_types: ["client_credentials"], scope: "ledger:check" });
    // A second "process": another app on the same database.
    const second = await buildTestApp({ config: testConfig({ PUBLIC_URL: broker.url }), db: broker.db, logger: false, oauth: { rateLimits: limits } });
    try {
      const request = (app: typeof second) =>
        app.inject({ method: "POST", url: "/oauth/token", headers: { authorization: basic(c.client_id, c.client_secret!), "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials" });
      for (let i = 0; i < 3; i++) expect((await request(broker.app)).statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, 400)); // let the first process write its count
      expect((await request(second)).statusCode).toBe(200);
      expect((await request(second)).statusCode).toBe(200);
      const limited = await request(second);
      expect(limited.statusCode).toBe(429);
      expect(limited.headers["retry-after"]).toBeTruthy();
      expect(limited.json().error).toBe("rate_limited");
    } finally {
      await second.close();
    }
  });

  it("counts requests with the wrong content type against the IP limit, and refuses them before reading the body", async () => {
    const app = await buildTestApp({ config: testConfig({ PUBLIC_URL: broker.url }), db: broker.db, logger: false, oauth: { rateLimits: { introspect: { perIp: { max: 2, windowSeconds: 60 } } } } });
    try {
      const json = () => app.inject({ method: "POST", url: "/oauth/introspect", remoteAddress: "192.0.2.7", headers: { "content-type": "application/json" }, payload: "{" });
      for (let i = 0; i < 2; i++) {
        const res = await json();
        expect(res.statusCode).toBe(400);
        expect(res.json()).toMatchObject({ error: "invalid_request", error_description: "the body must be application/x-www-form-urlencoded" });
      }
      expect((await json()).statusCode).toBe(429);
    } finally {
      await app.close();
    }
  });
});

describe("OAuth housekeeping", () => {
  it("sweeps expired replay guards and rate-limit windows", async () => {
    const broker = await startRunningBroker();
    try {
      const past = new Date(Date.now() - 3 * 24 * 3600_000);
      await broker.db.prisma.replayGuard.create({ data: { key: "dpop:x:y", expiresAt: past } });
      await broker.db.prisma.rateLimit.create({ data: { key: "token:ip:x", count: 3, resetAt: past } });
      await broker.db.prisma.replayGuard.create({ data: { key: "dpop:x:z", expiresAt: new Date(Date.now() + 60_000) } });
      expect(await broker.app.modules.oauth.sweepExpired()).toBe(2);
      expect(await broker.db.prisma.replayGuard.count()).toBe(1);
    } finally {
      await broker.close();
    }
  });
});
