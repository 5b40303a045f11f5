import { randomUUID } from "node:crypto";
import { createDb, type Db } from "@link-broker/db";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./support/suite-log.ts";
import { bankApi, type BankApi } from "./support/bank-api.ts";
import { driveLinkFlow } from "./support/link-flow.ts";
import { startLinkingEnv, type LinkingEnv, type RegisteredBank } from "./support/linking-env.ts";
import { startPrivatePostgres, type PrivatePostgres } from "./support/private-postgres.ts";
import { TEST_REGISTRATION_TOKEN } from "./support/app.ts";

/**
 * The database dies under the broker: a private Postgres server the test starts, kills and
 * restarts (the machine's shared server is never touched). Runs in the Postgres pass of the
 * test command; without Postgres's server binaries it fails saying so.
 */
describe.runIf(process.env.DATABASE_URL)("database faults (private Postgres)", () => {
  let server: PrivatePostgres;
  let env: LinkingEnv;
  let bank: RegisteredBank;
  let api: BankApi;

  beforeAll(async () => {
    server = await startPrivatePostgres();
    // createTestDb (inside startLinkingEnv) makes this file's database on the private server.
    process.env.DATABASE_URL = server.url();
    env = await startLinkingEnv({ deps: "real" });
    bank = await env.registerBank({ name: "Fault Bank" });
    api = bankApi(env, bank);
  }, 120_000);
  afterAll(async () => {
    await env?.close().catch(() => {});
    server?.destroy();
  });

  /** An owner session on the test database, to hold locks and read pg_stat_activity. */
  async function admin(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: env.db.url });
    c.on("error", () => {}); // it dies with the server on purpose
    await c.connect();
    return c;
  }

  /** Waits until some session of the broker waits on a lock (it is inside the step's transaction). */
  async function untilBlocked(c: pg.Client): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const { rows } = await c.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
      if (rows[0].n > 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error("the step never reached the lock");
  }

  /**
   * Ready again, and every pooled connection the kill left dead has been found: a request that
   * meets one answers 503 once and the pool drops it, so the next steps start from a clean pool.
   */
  async function untilReady(): Promise<void> {
    // A ledger check of a link nobody has: it always reaches the database (nothing is cached for it).
    const token = await api.ledgerToken();
    const read = () =>
      fetch(`${env.brokerUrl}/ledger/check`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ link_id: randomUUID(), scope: "balance:read" }),
      }).then((r) => r.status);
    let clean = 0;
    for (let i = 0; i < 300 && clean < 3; i++) {
      const ready = (await fetch(`${env.brokerUrl}/readyz`)).status === 200;
      const statuses = ready ? await Promise.all(Array.from({ length: 12 }, read)) : [503];
      clean = statuses.every((s) => s === 200) ? clean + 1 : 0;
      if (clean === 0) await new Promise((r) => setTimeout(r, 100));
    }
    if (clean < 3) throw new Error("the broker never became ready again");
  }

  async function journeyToConsent(psid: string) {
    env.clock.advance(60_000); // a fresh TOTP step per journey
    const { verifier, challenge } = api.pkce();
    const requestUri = await api.par({ scope: "balance:read", code_challenge: challenge });
    const flow = await driveLinkFlow(env, { clientId: bank.client_id, psid, params: { request_uri: requestUri }, stopAt: "consent" });
    const csrf = /name="csrf" value="([^"]+)"/.exec(await flow.last.text())![1]!;
    const approve = () =>
      flow.jar.fetch(`${env.brokerUrl}/link/consent`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ decision: "approve", csrf }),
      });
    return { flow, verifier, approve };
  }

  /** Everything of each step exists or nothing does. */
  async function checkConsistency(): Promise<void> {
    const c = await admin();
    try {
      const q = async (sql: string) => (await c.query(sql)).rows[0].n as number;
      // A code always has its link, its ledger entry and its consent projection.
      expect(await q(`SELECT count(*)::int AS n FROM authorization_code a LEFT JOIN link l ON l.id = a."linkId" WHERE l.id IS NULL`)).toBe(0);
      expect(await q(`SELECT count(*)::int AS n FROM authorization_code a WHERE NOT EXISTS (SELECT 1 FROM ledger_entry e WHERE e."consentId" = a."consentId")`)).toBe(0);
      // A ledger entry always has its link, which holds that consent.
      expect(await q(`SELECT count(*)::int AS n FROM ledger_entry e LEFT JOIN link l ON l.id = e."linkId" WHERE l.id IS NULL`)).toBe(0);
      // A consumed code always has its grant and tokens; a grant always comes from a consumed code or client credentials.
      expect(await q(`SELECT count(*)::int AS n FROM authorization_code a WHERE a."consumedAt" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "grant" g WHERE g.id = a."grantId")`)).toBe(0);
      expect(await q(`SELECT count(*)::int AS n FROM "grant" g WHERE g."linkId" IS NOT NULL AND NOT EXISTS (SELECT 1 FROM authorization_code a WHERE a."grantId" = g.id)`)).toBe(0);
      expect(await q(`SELECT count(*)::int AS n FROM "grant" g WHERE NOT EXISTS (SELECT 1 FROM refresh_token r WHERE r."grantId" = g.id) AND g."linkId" IS NOT NULL`)).toBe(0);
    } finally {
      await c.end().catch(() => {});
    }
    const verify = await env.broker.modules.ledger.ledger.verify();
    expect(verify.ok).toBe(true);
  }

  it("dies mid-consent: nothing of the approval exists; pages and APIs answer 503 with Retry-After; it recovers by itself and the approval then completes", async () => {
    const { verifier, approve } = await journeyToConsent("psid-fault-consent");
    const before = { links: await env.db.prisma.link.count(), entries: await env.db.prisma.ledgerEntry.count(), codes: await env.db.prisma.authorizationCode.count() };

    // Hold the ledger's chain lock, so the approval stops inside its transaction after the link row.
    const c = await admin();
    await c.query("SELECT pg_advisory_lock($1)", ["119182731994482"]); // the ledger's CHAIN_LOCK_KEY ("ledger" in ASCII)
    const pending = approve();
    await untilBlocked(c);
    server.kill();
    const failed = await pending;
    expect(failed.status).toBe(503);
    expect(failed.headers.get("retry-after")).toBe("5");
    expect(failed.headers.get("content-type")).toMatch(/text\/html/);
    expect(await failed.text()).toContain("Please wait");

    // While it is down: JSON and OAuth endpoints answer 503 with Retry-After, readiness says why.
    const token = await api.exchange("not-a-real-code", verifier);
    expect(token.status).toBe(503);
    expect(token.json).toMatchObject({ error: "temporarily_unavailable" });
    const ready = await fetch(`${env.brokerUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.headers.get("retry-after")).toBe("5");
    expect(await ready.json()).toMatchObject({ status: "database_unreachable" });
    expect((await fetch(`${env.brokerUrl}/healthz`)).status).toBe(200);

    await c.end().catch(() => {});
    server.start();
    await untilReady();
    expect(await env.db.prisma.link.count()).toBe(before.links);
    expect(await env.db.prisma.ledgerEntry.count()).toBe(before.entries);
    expect(await env.db.prisma.authorizationCode.count()).toBe(before.codes);

    // The customer presses Approve again: the same attempt completes, with no restart.
    const again = await approve();
    expect(again.status).toBe(303);
    const code = new URL(again.headers.get("location")!).searchParams.get("authorization_code");
    expect(code).toBeTruthy();
    expect((await api.exchange(code!, verifier)).status).toBe(200);
    await checkConsistency();
  }, 120_000);

  it("dies mid-exchange: the code is not consumed and no grant exists; after recovery the same code exchanges once", async () => {
    const { verifier, approve } = await journeyToConsent("psid-fault-exchange");
    const approved = await approve();
    const code = new URL(approved.headers.get("location")!).searchParams.get("authorization_code")!;
    const grantsBefore = await env.db.prisma.grant.count();

    // Block refresh-token inserts, so the exchange stops inside its transaction after the code and grant.
    const c = await admin();
    await c.query("BEGIN");
    await c.query(`LOCK TABLE refresh_token IN EXCLUSIVE MODE`);
    const pending = api.exchange(code, verifier);
    await untilBlocked(c);
    server.kill();
    const failed = await pending;
    expect(failed.status).toBe(503);
    expect(failed.json).toMatchObject({ error: "temporarily_unavailable" });

    await c.end().catch(() => {});
    server.start();
    await untilReady();
    expect(await env.db.prisma.grant.count()).toBe(grantsBefore);
    expect((await env.db.prisma.authorizationCode.findFirstOrThrow({ where: { consumedAt: null, grantId: null }, orderBy: { createdAt: "desc" } })).consumedAt).toBeNull();
    const exchanged = await api.exchange(code, verifier);
    expect(exchanged.status).toBe(200);
    expect((await api.exchange(code, verifier)).status).toBe(400); // still single-use
    await checkConsistency();
  }, 120_000);

  it("a slow query and an exhausted pool end in 503 with Retry-After, not in requests that hang", async () => {
    // A broker with a small pool and short timeouts on the same database.
    let db: Db | undefined;
    const c = await admin();
    try {
      db = await createDb({ url: env.db.url!, poolSize: 2, connectTimeoutMs: 300, statementTimeoutMs: 500 });
      const app = await buildTestApp({ config: env.config, db, logger: false });
      await c.query("BEGIN");
      await c.query(`LOCK TABLE client IN ACCESS EXCLUSIVE MODE`);
      const register = () =>
        app.inject({
          method: "POST",
          url: "/connect/register",
          headers: { authorization: `Bearer ${TEST_REGISTRATION_TOKEN}`, "content-type": "application/json" },
          payload: { client_name: "Slow", token_endpoint_auth_method: "client_secret_basic", grant_types: ["client_credentials"], scope: "ledger:check" },
        });
      // Two take the pool's connections and wait on the lock past the statement timeout; the
      // others wait for a connection past the pool timeout.
      const answers = await Promise.all([register(), register(), register(), register(), register()]);
      for (const res of answers) {
        expect(res.statusCode).toBe(503);
        expect(res.headers["retry-after"]).toBe("5");
        expect(res.json()).toMatchObject({ error: "temporarily_unavailable" });
      }
      await c.query("ROLLBACK");
      expect((await register()).statusCode).toBe(201);
      await app.close();
    } finally {
      await c.end().catch(() => {});
      await db?.close();
    }
  }, 60_000);
});
