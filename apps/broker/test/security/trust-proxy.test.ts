// Finding 2: in production every X-Forwarded-For was believed, so a caller could give each request
// a new address and never meet a per-IP limit (and leave a rate_limit row per spoofed address).
// Now only BROKER_TRUST_PROXY's proxies are believed, and nobody by default.
import { afterEach, describe, expect, it } from "vitest";
import { startTestBroker, type TestBroker } from "../support/app.ts";

const production = { NODE_ENV: "production", DATABASE_URL: "postgres://unused@127.0.0.1:5432/unused", PUBLIC_URL: "https://broker.example" };
let broker: TestBroker | undefined;
afterEach(async () => {
  await broker?.close();
  broker = undefined;
});

/** 35 registration attempts from one client address, each naming a different forwarded address. */
async function spoofedRegistrations(b: TestBroker, remoteAddress: string) {
  const statuses: number[] = [];
  for (let i = 0; i < 35; i++) {
    const res = await b.app.inject({ method: "POST", url: "/connect/register", remoteAddress, headers: { "x-forwarded-for": `203.0.113.${i + 1}` }, payload: {} });
    statuses.push(res.statusCode);
  }
  return statuses;
}

const registerRows = (b: TestBroker) => b.db.prisma.rateLimit.count({ where: { key: { startsWith: "register:" } } });

describe("per-IP limits behind proxies", () => {
  it("by default (production) a spoofed X-Forwarded-For is ignored: the 31st attempt gets 429, one counter row", async () => {
    broker = await startTestBroker({ env: production });
    const statuses = await spoofedRegistrations(broker, "198.51.100.7");
    expect(statuses.slice(0, 30).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(30)).toEqual([429, 429, 429, 429, 429]);
    expect(await registerRows(broker)).toBe(1);
  });

  it("a configured proxy's X-Forwarded-For is believed, and only from that proxy", async () => {
    broker = await startTestBroker({ env: { ...production, BROKER_TRUST_PROXY: "10.0.0.0/8" } });
    expect((await spoofedRegistrations(broker, "10.1.2.3")).includes(429)).toBe(false);
    const untrusted = await spoofedRegistrations(broker, "198.51.100.7");
    expect(untrusted.slice(30)).toEqual([429, 429, 429, 429, 429]);
  });

  it("a hop count believes that many proxies", async () => {
    broker = await startTestBroker({ env: { ...production, BROKER_TRUST_PROXY: "1" } });
    const res = await broker.app.inject({ method: "POST", url: "/connect/register", remoteAddress: "10.9.9.9", headers: { "x-forwarded-for": "192.0.2.1, 203.0.113.9" }, payload: {} });
    expect(res.statusCode).toBe(401);
    const rows = await broker.db.prisma.rateLimit.findMany({ where: { key: { startsWith: "register:" } }, select: { key: true } });
    expect(rows.map((r) => r.key)).toEqual(["register:ip:203.0.113.9"]);
  });
});
