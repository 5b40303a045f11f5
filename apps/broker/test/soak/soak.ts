// The soak: mixed traffic against a real broker (its own OAuth server and ledger, a real
// oidc-provider bank IdP, the fake Graph API, all over HTTP on loopback) for a while, reporting
// errors, p99 latency and RSS per minute, and the ledger's verify at the end.
// `runSoak` is shared by the 60-second test (test/soak.test.ts) and the 10-minute script
// (test/soak/run.ts: `pnpm soak`).
import { accountLinkingDelivery, bankApi, type BankApi } from "../support/bank-api.ts";
import { driveLinkFlow } from "../support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv } from "../support/linking-env.ts";

export interface MinuteFigures {
  minute: number;
  /** Operations finished (a linking journey counts as one). */
  requests: number;
  errors: number;
  /** Latency of single API requests (exchange, check, refresh, unlink, withdraw, links). */
  p50Ms: number;
  p99Ms: number;
  /** Whole linking journeys (PAR, /link, bank sign-in, TOTP, consent: about ten requests). */
  linkP99Ms: number;
  rssMb: number;
}

export interface SoakReport {
  durationS: number;
  requests: number;
  errors: number;
  /** The first few errors, for the operator to read. */
  errorSamples: string[];
  byOperation: Record<string, number>;
  minutes: MinuteFigures[];
  ledger: { ok: boolean; checked: number };
}

export interface SoakOptions {
  durationMs: number;
  /** Customer sessions running at once. */
  concurrency?: number;
  /** Length of a reporting period (a minute; shorter in quick runs). */
  periodMs?: number;
  log?: (line: string) => void;
}

const TOTP_STEP_MS = 30_000;

/** One (bank, customer) TOTP factor; usable once per 30-second step, as a real authenticator (one session per two steps here). */
interface Factor {
  bank: number;
  username: string;
  lastStep: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { durationMs, concurrency = 4, periodMs = 60_000, log = () => {} } = options;
  // Every journey comes from this one address: the per-address /link limit is raised to fit.
  const env: LinkingEnv = await startLinkingEnv({ deps: "real", linkLimits: { perIp: { max: 100_000, windowSeconds: 60 }, perClient: { max: 100_000, windowSeconds: 60 } } });
  const banks: { api: BankApi; clientId: string; pageId: string }[] = [];
  const factors: Factor[] = [];
  const usernames = Object.keys(env.idp.accounts);
  try {
    // Enough factors that linking rarely waits for the next TOTP step.
    for (let b = 0; b < 8; b++) {
      const bank = await env.registerBank({ name: `Soak Bank ${b}` });
      banks.push({ api: bankApi(env, bank), clientId: bank.client_id, pageId: env.graph.pageId });
      for (const username of usernames) factors.push({ bank: b, username, lastStep: -1 });
    }

    const started = Date.now();
    const periods: { latencies: number[]; journeys: number[]; errors: number; rssMb: number }[] = [];
    const byOperation: Record<string, number> = {};
    const errorSamples: string[] = [];
    let errors = 0;
    let psids = 0;
    const period = () => {
      const i = Math.floor((Date.now() - started) / periodMs);
      while (periods.length <= i) periods.push({ latencies: [], journeys: [], errors: 0, rssMb: 0 });
      return periods[i]!;
    };
    const rssTimer = setInterval(() => {
      period().rssMb = Math.round(process.memoryUsage().rss / 1048576);
    }, 1000);

    /** Times one operation; anything but its expected outcome is an error. */
    async function op<T>(name: string, fn: () => Promise<T>, ok: (value: T) => boolean): Promise<T | undefined> {
      const t0 = performance.now();
      try {
        const value = await fn();
        (name === "link" ? period().journeys : period().latencies).push(performance.now() - t0);
        byOperation[name] = (byOperation[name] ?? 0) + 1;
        if (ok(value)) return value;
        throw new Error(`unexpected outcome ${JSON.stringify(value).slice(0, 200)}`);
      } catch (err) {
        errors++;
        period().errors++;
        if (errorSamples.length < 10) errorSamples.push(`${name}: ${(err as Error).message.slice(0, 300)}`);
        return undefined;
      }
    }

    async function takeFactor(): Promise<Factor> {
      for (;;) {
        const step = Math.floor(Date.now() / TOTP_STEP_MS);
        const free = factors.find((f) => f.lastStep < step);
        if (free) {
          // Held through the next step too: a journey that crosses into it still uses its code
          // there, and another session must not present the same code in that step (a replay).
          free.lastStep = step + 1;
          return free;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    }

    /** One customer: link, exchange, checks, refreshes, then unlink by the bank or withdraw in Messenger. */
    async function session(n: number): Promise<void> {
      const factor = await takeFactor();
      const bank = banks[factor.bank]!;
      const psid = `soak-${++psids}`;
      const { verifier, challenge } = bank.api.pkce();
      const linked = await op(
        "link",
        async () => {
          const requestUri = await bank.api.par({ scope: "balance:read alerts:fraud", code_challenge: challenge });
          return driveLinkFlow(env, { clientId: bank.clientId, username: factor.username, psid, params: { request_uri: requestUri } });
        },
        (flow) => !!flow.authorizationCode,
      );
      if (!linked) return;
      const tokens = await op("exchange", () => bank.api.exchange(linked.authorizationCode!, verifier), (r) => r.status === 200);
      if (!tokens) return;
      const links = await op("links", () => bank.api.links(psid), (l) => l.length === 1);
      const linkId = links?.[0]?.link_id;
      if (!linkId) return;
      let refresh = tokens.json.refresh_token as string;
      for (let i = 0; i < 8; i++) {
        await op("check", () => bank.api.check({ link_id: linkId, scope: "balance:read", purpose: "account_servicing" }), (r) => r.allowed === true);
      }
      for (let i = 0; i < 2; i++) {
        const refreshed = await op("refresh", () => bank.api.refresh(refresh), (r) => r.status === 200);
        if (refreshed) refresh = refreshed.json.refresh_token as string;
      }
      if (n % 2 === 0) {
        await op("unlink", () => bank.api.unlink(linkId), (r) => r.status === 200);
      } else {
        const body = accountLinkingDelivery(bank.pageId, psid, "unlinked", Date.now());
        await op("withdraw", () => bank.api.webhook(body), (r) => r.status === 200);
      }
      await op("check_after_end", () => bank.api.check({ link_id: linkId, scope: "balance:read", purpose: "account_servicing" }), (r) => r.allowed === false && r.reason === "withdrawn");
    }

    let sessions = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (Date.now() - started < durationMs) await session(sessions++);
      }),
    );
    clearInterval(rssTimer);
    period().rssMb ||= Math.round(process.memoryUsage().rss / 1048576);

    const verify = await env.broker.modules.ledger.ledger.verify();
    const minutes = periods.map((p, i) => {
      const sorted = [...p.latencies].sort((a, b) => a - b);
      const journeys = [...p.journeys].sort((a, b) => a - b);
      return {
        minute: i + 1,
        requests: p.latencies.length + p.journeys.length,
        errors: p.errors,
        p50Ms: Math.round(percentile(sorted, 50)),
        p99Ms: Math.round(percentile(sorted, 99)),
        linkP99Ms: Math.round(percentile(journeys, 99)),
        rssMb: p.rssMb,
      };
    });
    for (const m of minutes) {
      log(`period ${m.minute}: ${m.requests} operations, ${m.errors} errors, API p50 ${m.p50Ms} ms p99 ${m.p99Ms} ms, linking journey p99 ${m.linkP99Ms} ms, RSS ${m.rssMb} MB`);
    }
    return {
      durationS: Math.round((Date.now() - started) / 1000),
      requests: minutes.reduce((n, m) => n + m.requests, 0),
      errors,
      errorSamples,
      byOperation,
      minutes,
      ledger: { ok: verify.ok, checked: verify.checked },
    };
  } finally {
    await env.close();
  }
}
