import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./support/suite-log.ts";
import { testConfig } from "./support/app.ts";
import { basic, registerClient, startRunningBroker, type RunningBroker } from "./support/oauth.ts";
import { systemClock } from "../src/clock.ts";
import { createSealer } from "../src/crypto/seal.ts";
import { createClientRepo } from "../src/oauth/clients/client-repo.ts";
import { createRegistrationService } from "../src/oauth/clients/register-service.ts";
import type { ClientMetadata } from "../src/oauth/clients/validate-metadata.ts";
import type { ClientRateLimits } from "../src/plugins/rate-limit-policy.ts";

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

  it("puts the RateLimit fields on refusals too: they were counted before they were refused", async () => {
    const app = await buildTestApp({ config: testConfig({ PUBLIC_URL: broker.url }), db: broker.db, logger: false, oauth: { rateLimits: { token: { perIp: { max: 50, windowSeconds: 60 } } } } });
    try {
      const token = (headers: Record<string, string>, payload: string) => app.inject({ method: "POST", url: "/oauth/token", remoteAddress: "192.0.2.9", headers, payload });
      const badClient = await token({ authorization: basic("no-such-client", "wrong"), "content-type": "application/x-www-form-urlencoded" }, "grant_type=client_credentials");
      expect(badClient.statusCode).toBe(401);
      expect(badClient.headers).toMatchObject({ "ratelimit-policy": '"token-ip";q=50;w=60', ratelimit: '"token-ip";r=49;t=60' });
      const badType = await token({ "content-type": "application/json" }, "{}");
      expect(badType.statusCode).toBe(400);
      expect(badType.headers).toMatchObject({ "ratelimit-policy": '"token-ip";q=50;w=60', ratelimit: expect.stringMatching(/^"token-ip";r=48;t=(59|60)$/) });
    } finally {
      await app.close();
    }
  });
});

describe("BROKER_RATE_LIMITS", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startRunningBroker();
  });
  afterAll(() => broker?.close());

  it("changes the limits from the environment, and every answer says where the caller stands", async () => {
    const c = await registerClient(broker.url, { grant_types: ["client_credentials"], scope: "ledger:check" });
    const config = testConfig({ PUBLIC_URL: broker.url, BROKER_RATE_LIMITS: '{"token":{"per_client":"3/60s"},"introspect":{"per_ip":"50/m"}}' });
    const app = await buildTestApp({ config, db: broker.db, logger: false });
    try {
      const token = () =>
        app.inject({ method: "POST", url: "/oauth/token", remoteAddress: "192.0.2.10", headers: { authorization: basic(c.client_id, c.client_secret!), "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials" });
      const first = await token();
      expect(first.statusCode).toBe(200);
      // The per-IP default (3000/10s) was kept; the per-client limit is the environment's.
      expect(first.headers["ratelimit-policy"]).toBe('"token-ip";q=3000;w=10, "token-client";q=3;w=60');
      expect(first.headers.ratelimit).toMatch(/^"token-ip";r=2999;t=(9|10), "token-client";r=2;t=(59|60)$/);
      expect((await token()).statusCode).toBe(200);
      const third = await token();
      expect(third.statusCode).toBe(200);
      expect(third.headers.ratelimit).toMatch(/"token-client";r=0;t=\d+$/);
      const refused = await token();
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error).toBe("rate_limited");
      expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(59);
      expect(refused.headers.ratelimit).toMatch(/"token-client";r=0;t=(59|60)$/);

      const introspect = await app.inject({ method: "POST", url: "/oauth/introspect", remoteAddress: "192.0.2.10", headers: { authorization: basic(c.client_id, c.client_secret!), "content-type": "application/x-www-form-urlencoded" }, payload: "token=x" });
      expect(introspect.statusCode).toBe(200);
      expect(introspect.headers["ratelimit-policy"]).toBe('"introspect-ip";q=50;w=60, "introspect-client";q=4000;w=10');
    } finally {
      await app.close();
    }
  });

  it("limits the consent-event poll per client and per IP as events_poll says", async () => {
    const c = await registerClient(broker.url, { grant_types: ["client_credentials"], scope: "ledger:check" });
    const config = testConfig({ PUBLIC_URL: broker.url, BROKER_RATE_LIMITS: '{"events_poll":{"per_client":"2/m"}}' });
    const app = await buildTestApp({ config, db: broker.db, logger: false });
    try {
      const poll = () => app.inject({ method: "POST", url: "/events/poll", remoteAddress: "192.0.2.12", headers: { authorization: basic(c.client_id, c.client_secret!) }, payload: { returnImmediately: true } });
      const first = await poll();
      expect(first.statusCode).toBe(200);
      expect(first.headers["ratelimit-policy"]).toBe('"events_poll-ip";q=600;w=10, "events_poll-client";q=2;w=60');
      expect((await poll()).statusCode).toBe(200);
      const refused = await poll();
      expect(refused.statusCode).toBe(429);
      expect(refused.json().error).toBe("rate_limited");
      expect(Number(refused.headers["retry-after"])).toBeGreaterThanOrEqual(59);
      expect(refused.headers.ratelimit).toMatch(/^"events_poll-ip";r=597;t=\d+, "events_poll-client";r=0;t=(59|60)$/);
    } finally {
      await app.close();
    }
  });

  it("carries the fields on a refusal before the body is read, and on the linking pages", async () => {
    const config = testConfig({ PUBLIC_URL: broker.url, BROKER_RATE_LIMITS: '{"par":{"per_ip":"1/h"},"link":{"per_ip":"1/h"}}' });
    const app = await buildTestApp({ config, db: broker.db, logger: false });
    try {
      const par = () => app.inject({ method: "POST", url: "/par", remoteAddress: "192.0.2.11", headers: { "content-type": "text/plain" }, payload: "x" });
      expect((await par()).statusCode).toBe(400);
      const refused = await par();
      expect(refused.statusCode).toBe(429);
      expect(refused.headers["ratelimit-policy"]).toBe('"par-ip";q=1;w=3600');
      expect(refused.headers.ratelimit).toMatch(/^"par-ip";r=0;t=(3599|3600)$/);
      expect(Number(refused.headers["retry-after"])).toBeGreaterThan(3500);

      const link = () => app.inject({ method: "GET", url: "/link?client_id=nobody", remoteAddress: "192.0.2.11" });
      expect((await link()).headers["ratelimit-policy"]).toBe('"link-ip";q=1;w=3600');
      const page = await link();
      expect(page.statusCode).toBe(429);
      expect(page.headers["retry-after"]).toBeTruthy();
    } finally {
      await app.close();
    }
  });
});

describe("a client's own limits, set by the operator at registration", () => {
  let broker: RunningBroker;
  beforeAll(async () => {
    broker = await startRunningBroker();
  });
  afterAll(() => broker?.close());

  /** Registration as the CLI does it (`clients create --rate-limits`): the operator's path. */
  const registerAsOperator = (rateLimits: ClientRateLimits) =>
    createRegistrationService({ repo: createClientRepo(broker.db), cache: { invalidate: () => {} }, sealer: createSealer(broker.config.masterKey), config: broker.config, clock: systemClock }).register(
      { client_name: "Big bank", grant_types: ["client_credentials"], scope: "ledger:check" } as ClientMetadata,
      { rateLimits },
    );
  const token = (c: { client_id: string; client_secret?: string }, remoteAddress: string) =>
    broker.app.inject({ method: "POST", url: "/oauth/token", remoteAddress, headers: { authorization: basic(c.client_id, c.client_secret!), "content-type": "application/x-www-form-urlencoded" }, payload: "grant_type=client_credentials" });

  it("replace the per_client limits of that client only, on every endpoint they name", async () => {
    const big = await registerAsOperator({ token: "2/m", events_poll: "5/h" });
    const other = await registerClient(broker.url, { grant_types: ["client_credentials"], scope: "ledger:check" });
    const first = await token(big, "192.0.2.20");
    expect(first.headers["ratelimit-policy"]).toBe('"token-ip";q=3000;w=10, "token-client";q=2;w=60');
    expect((await token(big, "192.0.2.21")).statusCode).toBe(200);
    const refused = await token(big, "192.0.2.22");
    expect(refused.statusCode).toBe(429);
    expect(refused.headers.ratelimit).toMatch(/"token-client";r=0;t=(59|60)$/);
    // Another client keeps the defaults, and so does the big one where it set nothing.
    const others = await token(other, "192.0.2.20");
    expect(others.statusCode).toBe(200);
    expect(others.headers["ratelimit-policy"]).toBe('"token-ip";q=3000;w=10, "token-client";q=2000;w=10');
    const poll = await broker.app.inject({ method: "POST", url: "/events/poll", headers: { authorization: basic(big.client_id, big.client_secret!) }, payload: { returnImmediately: true } });
    expect(poll.headers["ratelimit-policy"]).toBe('"events_poll-ip";q=600;w=10, "events_poll-client";q=5;w=3600');
    const introspect = await broker.app.inject({ method: "POST", url: "/oauth/introspect", headers: { authorization: basic(big.client_id, big.client_secret!), "content-type": "application/x-www-form-urlencoded" }, payload: "token=x" });
    expect(introspect.headers["ratelimit-policy"]).toBe('"introspect-ip";q=5000;w=10, "introspect-client";q=4000;w=10');
  });

  it("cannot be set by a bank registering itself, nor changed by its registration update", async () => {
    const self = await registerClient(broker.url, { grant_types: ["client_credentials"], scope: "ledger:check", rate_limits: { token: "1000000/s" }, rateLimits: { token: "1000000/s" } });
    expect((await broker.db.prisma.client.findUnique({ where: { id: self.client_id } }))?.rateLimits).toBeNull();
    expect((await token(self, "192.0.2.30")).headers["ratelimit-policy"]).toBe('"token-ip";q=3000;w=10, "token-client";q=2000;w=10');

    const big = await registerAsOperator({ token: "7/m" });
    const put = await broker.app.inject({
      method: "PUT",
      url: `/connect/register/${big.client_id}`,
      headers: { authorization: `Bearer ${big.registration_access_token}` },
      payload: { client_id: big.client_id, client_name: "Big bank", grant_types: ["client_credentials"], scope: "ledger:check", rate_limits: { token: "1000000/s" } },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).not.toHaveProperty("rate_limits");
    expect((await broker.db.prisma.client.findUnique({ where: { id: big.client_id } }))?.rateLimits).toEqual({ token: "7/m" });
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
