import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startRunningBroker, type RunningBroker } from "./support/oauth.ts";

/**
 * Driven past its limits, the broker answers 503 with Retry-After at once instead of queueing,
 * while /healthz and /readyz still answer; when the load stops it serves again. The limit is set
 * low so the test's own traffic (in this process, on the broker's event loop) passes it.
 * Independent of the database: runs once, in the Postgres pass of the test command.
 */
describe.runIf(process.env.DATABASE_URL)("load shedding", () => {
  let broker: RunningBroker;

  beforeAll(async () => {
    broker = await startRunningBroker({ deps: { loadShedding: { maxEventLoopDelayMs: 15, sampleIntervalMs: 20 } } });
  });
  afterAll(() => broker?.close());

  const check = () =>
    fetch(`${broker.url}/ledger/check`, { method: "POST", headers: { authorization: "Bearer nope", "content-type": "application/json" }, body: JSON.stringify({ link_id: "l", scope: "balance:read", purpose: "account_servicing" }) }).then(async (res) => ({
      status: res.status,
      retryAfter: res.headers.get("retry-after"),
      body: (await res.json()) as { error?: string },
    }));
  const probe = (path: string) => fetch(`${broker.url}${path}`).then(async (res) => ({ status: res.status, body: await res.text() }));

  it("answers 503 with Retry-After past the limit, keeps health routes up, and recovers", async () => {
    let shed: Awaited<ReturnType<typeof check>> | undefined;
    const healthDuringShedding: number[] = [];
    for (let wave = 0; wave < 40 && !shed; wave++) {
      const results = await Promise.all([...Array.from({ length: 400 }, check), probe("/healthz"), probe("/readyz")]);
      const answers = results.slice(0, 400) as Awaited<ReturnType<typeof check>>[];
      // Nothing but the refusal it asked for (401) or a shed (503): never another 5xx.
      expect([...new Set(answers.map((a) => `${a.status} ${a.body.error}`))].filter((s) => !/^(401|503) /.test(s))).toEqual([]);
      shed = answers.find((a) => a.status === 503);
      if (shed) healthDuringShedding.push(...results.slice(400).map((r) => (r as { status: number }).status));
    }
    expect(shed).toBeDefined();
    expect(shed).toMatchObject({ retryAfter: "2", body: { error: "temporarily_unavailable" } });
    expect(healthDuringShedding).toEqual([200, 200]);

    // Once the load stops, requests are served again.
    let after = 503;
    for (let i = 0; i < 100 && after === 503; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = (await check()).status;
    }
    expect(after).toBe(401);
  }, 120_000);
});
