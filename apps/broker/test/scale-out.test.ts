import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bankApi } from "./support/bank-api.ts";
import { driveLinkFlow, PLAIN_VERIFIER } from "./support/link-flow.ts";
import { type LinkingEnv, type RegisteredBank, startLinkingEnv } from "./support/linking-env.ts";
import { basic, postForm } from "./support/oauth.ts";

const kidOf = (jwt: string) => (JSON.parse(Buffer.from(jwt.split(".")[0]!, "base64url").toString()) as { kid: string }).kid;
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/**
 * Two brokers on one Postgres behind a round-robin proxy without sticky sessions, as README's
 * "Running in production" deploys them: every piece of shared state (link attempts, rate-limit
 * counters, the ledger's check cache, signing keys) must hold across processes. Postgres only:
 * the embedded database serves one process.
 */
describe.runIf(process.env.DATABASE_URL)("scale-out: two brokers on one Postgres", () => {
  let env: LinkingEnv;
  let bank: RegisteredBank;
  let service: RegisteredBank;
  beforeAll(async () => {
    env = await startLinkingEnv({ replicas: 2, env: { BROKER_RATE_LIMITS: '{"par":{"per_client":"6/60s"}}' } });
    bank = await env.registerBank({ metadata: { require_pushed_authorization_requests: false } });
    service = await env.registerBank({ service: true });
  });
  afterAll(() => env?.close());

  const direct = (replica: number) => env.replicas[replica]!.url;
  async function clientCredentials(url: string, client: RegisteredBank): Promise<string> {
    const res = await postForm(`${url}/oauth/token`, { grant_type: "client_credentials", scope: "ledger:check" }, { authorization: basic(client.client_id, client.client_secret) });
    expect(res.status).toBe(200);
    return res.json.access_token as string;
  }

  it("finishes on one process a link attempt started on the other", async () => {
    const from = env.proxy!.log.length;
    const result = await driveLinkFlow(env, { clientId: bank.client_id });
    expect(result.authorizationCode).toBeTruthy();
    const steps = env.proxy!.log.slice(from).filter((r) => r.path.startsWith("/link"));
    expect(steps.map((s) => `${s.method} ${s.path}`)).toEqual(["GET /link", "GET /link/callback", "GET /link/2fa", "POST /link/2fa", "GET /link/consent", "POST /link/consent"]);
    // Consecutive steps alternate processes: the attempt lives in Postgres, not in one process.
    expect(steps[0]!.upstream).not.toBe(steps.at(-1)!.upstream);
    for (let i = 1; i < steps.length; i++) expect(steps[i]!.upstream).not.toBe(steps[i - 1]!.upstream);

    const exchanged = await bankApi(env, bank).exchange(result.authorizationCode!, PLAIN_VERIFIER);
    expect(exchanged.status).toBe(200);
  });

  it("counts a client's rate limit across both processes", async () => {
    const from = env.proxy!.log.length;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await postForm(`${env.brokerUrl}/par`, { scope: "balance:read", code_challenge: "x".repeat(43), code_challenge_method: "S256" }, { authorization: basic(bank.client_id, bank.client_secret) });
      statuses.push(res.status);
      // Each process writes its counts every 200 ms and reads the shared count as it does.
      await new Promise((r) => setTimeout(r, 250));
    }
    const served = new Set(env.proxy!.log.slice(from).map((r) => r.upstream));
    expect(served).toEqual(new Set([0, 1]));
    const allowed = statuses.filter((s) => s !== 429).length;
    // 6 a minute: counted per process, each would have allowed all 5 of its own.
    expect(allowed, statuses.join(",")).toBeGreaterThanOrEqual(6);
    expect(allowed, statuses.join(",")).toBeLessThanOrEqual(7);
    expect(statuses.slice(-2)).toEqual([429, 429]);
  });

  it("refuses on one process, within a second, a consent withdrawn on the other (200 withdrawals)", async () => {
    const [a] = env.replicas;
    const token = await clientCredentials(direct(1), service);
    const check = async (subject: string) => {
      const res = await fetch(`${direct(1)}/ledger/check`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ client_id: service.client_id, subject, scope: "balance:read" }) });
      expect(res.status).toBe(200);
      return ((await res.json()) as { allowed: boolean }).allowed;
    };
    const delays: number[] = [];
    for (let i = 0; i < 200; i++) {
      const subject = `scale-out-${i}`;
      const { consentId } = await a!.app.modules.ledger.ledger.grant({ clientId: service.client_id, subject, scopes: ["balance:read"], actor: "customer" });
      // The second process has answered "allowed" (and may keep that answer) before the withdrawal.
      await expect.poll(() => check(subject), { timeout: 2000, interval: 5 }).toBe(true);
      await a!.app.modules.ledger.ledger.withdraw({ consentId, actor: "customer" });
      const committed = performance.now();
      while (await check(subject)) {
        if (performance.now() - committed > 5000) throw new Error(`withdrawal ${i} not seen by the other process after 5 s`);
      }
      delays.push(performance.now() - committed);
    }
    const sorted = [...delays].sort((x, y) => x - y);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    console.log(`withdrawal propagation over ${delays.length} withdrawals: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`);
    expect(p99).toBeLessThan(1000);
  }, 180_000);

  it("honours on one process a signing key rotated on the other", async () => {
    const [a] = env.replicas;
    const kid = await a!.app.modules.keys.keyStore.rotate();
    const token = await clientCredentials(direct(0), service);
    expect(kidOf(token)).toBe(kid);
    // The other process has never seen this key: it verifies the token, introspection says active.
    const introspected = await postForm(`${direct(1)}/oauth/introspect`, { token }, { authorization: basic(service.client_id, service.client_secret) });
    expect(introspected.json.active).toBe(true);
    const checked = await fetch(`${direct(1)}/ledger/check`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ client_id: service.client_id, subject: "nobody", scope: "balance:read" }) });
    expect(checked.status).toBe(200);
    const jwks = (await (await fetch(`${direct(1)}/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(jwks.keys.map((k) => k.kid)).toContain(kid);
    // And it signs with the new key once its key cache (10 s) turns over.
    await expect.poll(async () => kidOf(await clientCredentials(direct(1), service)), { timeout: 15_000, interval: 500 }).toBe(kid);
  }, 30_000);
});
