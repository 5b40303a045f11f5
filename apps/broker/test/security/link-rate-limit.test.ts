// Finding 5: every GET /link with a bogus account_linking_token made a Graph call on the bank's
// page token, without limit. /link is now limited per caller address and per client, and a
// request that fails a check needing no network never reaches Graph.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLAIN_PARAMS } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type SeededClient } from "../support/linking-env.ts";

const LIMITS = { perIp: { max: 8, windowSeconds: 60 }, perClient: { max: 20, windowSeconds: 60 } };
const LINK_IP_LIMIT = LIMITS.perIp;
const LINK_CLIENT_LIMIT = LIMITS.perClient;
let env: LinkingEnv;
let client: SeededClient;
beforeAll(async () => {
  // The defaults' shape with smaller numbers, so the test sends tens of requests, not hundreds.
  env = await startLinkingEnv({ linkLimits: LIMITS });
  client = await env.seedClient();
});
afterAll(() => env?.close());

/** Windows are fixed minutes: start each test just after a boundary so it cannot straddle one. */
const toWindowStart = () => env.clock.advance(60_000 - (env.clock.now().getTime() % 60_000) + 1_000);
const graphLookups = () => env.graph.calls.filter((c) => c.path === "/me").length;
function bogusLink(extra: Record<string, string> = {}, clientId = client.id) {
  const q = new URLSearchParams({ client_id: clientId, ...PLAIN_PARAMS, account_linking_token: `bogus-${Math.random()}`, redirect_uri: env.messengerRedirect, ...extra });
  return `/link?${q}`;
}

describe("/link spends no Graph quota for callers over their limit", () => {
  it("attack: a request failing an offline check (bad scope, PKCE, redirect) → refused without a Graph call", async () => {
    const before = graphLookups();
    const refusals: Record<string, string>[] = [{ scope: "advertising" }, { code_challenge_method: "plain" }, { redirect_uri: "https://evil.example/" }, { client_id: "no-such-client" }];
    for (const extra of refusals) {
      const res = await env.broker.inject({ url: bogusLink(extra), remoteAddress: "192.0.2.200" });
      expect(res.statusCode).toBeGreaterThanOrEqual(400);
      expect(res.statusCode).toBeLessThan(500);
    }
    expect(graphLookups()).toBe(before);
  });

  it(`attack: bogus tokens from one address → past ${LINK_IP_LIMIT.max} a minute, 429 without a Graph call`, async () => {
    toWindowStart();
    const before = graphLookups();
    const statuses: number[] = [];
    for (let i = 0; i < LINK_IP_LIMIT.max + 3; i++) statuses.push((await env.broker.inject({ url: bogusLink(), remoteAddress: "192.0.2.1" })).statusCode);
    expect(statuses.slice(0, LINK_IP_LIMIT.max).every((s) => s === 400)).toBe(true);
    expect(statuses.slice(LINK_IP_LIMIT.max)).toEqual([429, 429, 429]);
    expect(graphLookups() - before).toBe(LINK_IP_LIMIT.max);
  });

  it(`attack: bogus tokens for one bank from many addresses → Graph is called at most ${LINK_CLIENT_LIMIT.max} times a minute`, async () => {
    const bank = await env.seedClient(); // its own per-client window
    toWindowStart();
    const before = graphLookups();
    let refused = 0;
    for (let i = 0; i < LINK_CLIENT_LIMIT.max + 5; i++) {
      const res = await env.broker.inject({ url: bogusLink({}, bank.id), remoteAddress: `10.0.${i >> 8}.${i & 255}` });
      if (res.statusCode === 429) {
        refused++;
        expect(res.headers["retry-after"]).toBeDefined();
      }
    }
    // The shared limiter counts locally and flushes to Postgres; on Postgres it may admit one more
    // while a window's first write is in flight (plugins/rate-limit.ts: approximate by design).
    expect(refused).toBeGreaterThanOrEqual(4);
    expect(graphLookups() - before).toBeLessThanOrEqual(LINK_CLIENT_LIMIT.max + 1);
  });

  it("the per-client limit's answers and its 429 carry RateLimit-Policy and RateLimit beside the per-IP limit's", async () => {
    const bank = await env.seedClient();
    toWindowStart();
    const policy = `"link-ip";q=${LINK_IP_LIMIT.max};w=60, "link-client";q=${LINK_CLIENT_LIMIT.max};w=60`;
    const first = await env.broker.inject({ url: bogusLink({}, bank.id), remoteAddress: "10.1.0.0" });
    expect(first.statusCode).toBe(400); // the bogus token, after the limits
    expect(first.headers["ratelimit-policy"]).toBe(policy);
    expect(first.headers.ratelimit).toMatch(new RegExp(`^"link-ip";r=${LINK_IP_LIMIT.max - 1};t=\\d+, "link-client";r=${LINK_CLIENT_LIMIT.max - 1};t=\\d+$`));
    let last = first;
    for (let i = 1; i <= LINK_CLIENT_LIMIT.max + 1 && last.statusCode !== 429; i++) last = await env.broker.inject({ url: bogusLink({}, bank.id), remoteAddress: `10.1.0.${i}` });
    expect(last.statusCode).toBe(429);
    expect(Number(last.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(last.headers["ratelimit-policy"]).toBe(policy);
    expect(last.headers.ratelimit).toMatch(/^"link-ip";r=\d+;t=\d+, "link-client";r=0;t=\d+$/);
  });

  it("a bank's own link limit, set by the operator, replaces the per-client one for that bank only", async () => {
    const bank = await env.seedClient({ rateLimits: { link: "2/m" } });
    toWindowStart();
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await env.broker.inject({ url: bogusLink({}, bank.id), remoteAddress: `10.2.0.${i}` }));
    expect(answers.map((a) => a.statusCode)).toEqual([400, 400, 429]);
    expect(answers[2]!.headers["ratelimit-policy"]).toBe(`"link-ip";q=${LINK_IP_LIMIT.max};w=60, "link-client";q=2;w=60`);
    const other = await env.broker.inject({ url: bogusLink({}, client.id), remoteAddress: "10.2.1.0" });
    expect(other.headers["ratelimit-policy"]).toBe(`"link-ip";q=${LINK_IP_LIMIT.max};w=60, "link-client";q=${LINK_CLIENT_LIMIT.max};w=60`);
  });
});
