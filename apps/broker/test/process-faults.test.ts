import { get } from "node:http";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { systemClock } from "../src/clock.ts";
import { createSealer } from "../src/crypto/seal.ts";
import { createBrokerLedger, createBrokerLedgerKeys } from "../src/ledger/ledger-module.ts";
import { testConfig } from "./support/app.ts";
import { bankApi, type BankApi } from "./support/bank-api.ts";
import { startBankIdp, type BankIdpServer } from "./support/bank-idp.ts";
import { startChildBroker, until, type ChildBroker } from "./support/child-broker.ts";
import { csrfOf, driveLinkFlow, postForm, totpCode, totpSecretOf } from "./support/link-flow.ts";
import { testClock, type LinkingEnv } from "./support/linking-env.ts";
import { startFakeGraph, type FakeGraph } from "./support/fake-graph.ts";
import { registerClient } from "./support/oauth.ts";
import { freePort } from "./support/ports.ts";

/**
 * The broker process dies (kill -9) or restarts under the test: nothing written is lost or half
 * written, and customers finish what they started. Several processes on one database need
 * Postgres: this runs in the Postgres pass of the test command.
 */
describe.runIf(process.env.DATABASE_URL)("process faults", () => {
  let db: TestDb;
  let graph: FakeGraph;
  let idp: BankIdpServer;
  let port: number;
  let broker: ChildBroker | undefined;
  let env: LinkingEnv;
  const banks: { clientId: string; api: BankApi }[] = [];
  let journeys = 0;

  /** A bank registered through /connect/register, as a bank's bot would. */
  async function registerBank() {
    const bank = await registerClient(env.brokerUrl, {
      client_name: "Crash Bank",
      grant_types: ["authorization_code", "refresh_token", "client_credentials"],
      scope: "balance:read alerts:fraud ledger:check",
      messenger: { page_id: graph.pageId, page_access_token: graph.pageAccessToken, app_secret: "a".repeat(32), verify_token: "v".repeat(16) },
      bank_idp: { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret },
    });
    banks.push({ clientId: bank.client_id, api: bankApi(env, { client_id: bank.client_id, client_secret: bank.client_secret! }) });
  }

  const start = async (extra: Record<string, string> = {}) => {
    broker = await startChildBroker(port, {
      DATABASE_URL: db.url!,
      MESSENGER_GRAPH_URL: graph.url,
      MESSENGER_REDIRECT_ALLOWLIST: env.messengerRedirect,
      ...extra,
    });
    return broker;
  };

  beforeAll(async () => {
    db = await createTestDb();
    graph = await startFakeGraph();
    port = await freePort();
    const brokerUrl = `http://127.0.0.1:${port}`;
    idp = await startBankIdp({ redirectUri: `${brokerUrl}/link/callback` });
    // What the journey helpers need of a linking environment, pointed at the child process.
    env = { brokerUrl, clock: testClock(), totpSecrets: new Map(), idp, graph, messengerRedirect: "http://127.0.0.1:9/messenger_platform/account_linking" } as unknown as LinkingEnv;
    await start();
  }, 120_000);

  afterAll(async () => {
    await broker?.kill();
    await Promise.all([graph?.close(), idp?.close()]);
    await db?.drop();
  });

  /**
   * A journey taken up to `stopAt`, each by a (bank, customer) pair of its own, so each enrols its
   * own TOTP factor and no two use one factor's time step.
   */
  async function journey(stopAt: "second_factor" | "consent") {
    const n = journeys++;
    const usernames = Object.keys(idp.accounts);
    const b = Math.floor(n / usernames.length);
    while (banks.length <= b) await registerBank();
    const { clientId, api } = banks[b]!;
    const username = usernames[n % usernames.length]!;
    const { verifier, challenge } = api.pkce();
    const requestUri = await api.par({ scope: "balance:read", code_challenge: challenge });
    const flow = await driveLinkFlow(env, { clientId, username, psid: `psid-${n}`, params: { request_uri: requestUri }, stopAt });
    return { ...flow, verifier, api };
  }

  /** The whole-ledger verify is compliance's: run it on the database, with the ledger keys the broker published. */
  async function verifyLedger() {
    const config = testConfig();
    const keys = createBrokerLedgerKeys({ db, sealer: createSealer(config.masterKey), clock: systemClock }, { cacheMs: 0 });
    const ledger = createBrokerLedger({ config, db, clock: systemClock, keys });
    try {
      const result = await ledger.verify();
      expect(result).toMatchObject({ ok: true });
      return result.checked;
    } finally {
      await ledger.close();
    }
  }

  async function codesWithoutLedgerEntry(): Promise<number> {
    const rows = await db.prisma.$queryRawUnsafe<{ n: number }[]>(
      `SELECT count(*)::int AS n FROM authorization_code a WHERE NOT EXISTS (SELECT 1 FROM ledger_entry e WHERE e."consentId" = a."consentId" AND e."linkId" = a."linkId")`,
    );
    return rows[0]!.n;
  }

  it("kill -9 during a burst of approvals and mid-attempt: after restart the ledger verifies, every code has its ledger entry, every customer finishes", async () => {
    // One customer is at the second factor when the broker dies; six are approving.
    const midway = await journey("second_factor");
    const pending: Awaited<ReturnType<typeof journey>>[] = [];
    for (let i = 0; i < 6; i++) pending.push(await journey("consent"));
    const approve = async (p: (typeof pending)[number]) => {
      const page = await p.jar.fetch(`${env.brokerUrl}/link/consent`);
      if (page.status !== 200) return page;
      return postForm(p.jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf: csrfOf(await page.text()) });
    };
    const burst = pending.map((p) => approve(p).catch(() => undefined));
    // Killed as soon as the first approval is through, with the others being written.
    await Promise.race(burst);
    await broker!.kill("SIGKILL");
    const first = await Promise.all(burst);

    await start();
    await verifyLedger();
    expect(await codesWithoutLedgerEntry()).toBe(0);

    // Every customer whose approval did not get through approves again and gets a code. One whose
    // approval was written but whose answer the kill cut off is told the step is done (409): its
    // code exists, with its ledger entry (checked above), and is never shown twice.
    for (const [i, p] of pending.entries()) {
      const done = first[i]?.status === 303 ? first[i] : await approve(p);
      if (done?.status === 409) {
        const link = await db.prisma.link.findFirstOrThrow({ where: { psid: p.psid } });
        expect(await db.prisma.authorizationCode.count({ where: { linkId: link.id } })).toBe(1);
        continue;
      }
      expect(done?.status).toBe(303);
      const code = new URL(done!.headers.get("location")!).searchParams.get("authorization_code");
      expect(code).toBeTruthy();
      expect((await p.api.exchange(code!, p.verifier)).status).toBe(200);
    }
    await verifyLedger();
    expect(await codesWithoutLedgerEntry()).toBe(0);

    // The customer who was at the second factor carries on in the same browser and finishes.
    const html = await midway.last.text();
    const secret = totpSecretOf(html);
    expect(secret).toBeTruthy();
    const verified = await postForm(midway.jar, `${env.brokerUrl}/link/2fa`, { code: await totpCode(secret!, new Date()), csrf: csrfOf(html) });
    expect(verified.status).toBe(303);
    const consent = await midway.jar.fetch(`${env.brokerUrl}/link/consent`);
    expect(consent.status).toBe(200);
    const decided = await postForm(midway.jar, `${env.brokerUrl}/link/consent`, { decision: "approve", csrf: csrfOf(await consent.text()) });
    expect(decided.status).toBe(303);
    const authCode = new URL(decided.headers.get("location")!).searchParams.get("authorization_code");
    expect((await midway.api.exchange(authCode!, midway.verifier)).status).toBe(200);
  }, 180_000);

  it("BROKER_WORKERS=2: a worker killed under load loses at most the requests in flight on it", async () => {
    await broker!.kill("SIGTERM");
    const group = await start({ BROKER_WORKERS: "2", LOG_LEVEL: "info" });
    const first = await until("two listening workers", () => {
      const pids = group.workers();
      return pids.length === 2 && pids.every((pid) => group.output().includes(`"pid":${pid},`)) ? pids : undefined;
    });
    const LOOPS = 10;
    const PER_LOOP = 40;
    let done = 0;
    let ok = 0;
    const lost: string[] = [];
    const victim = first[0]!;
    const loop = async () => {
      for (let i = 0; i < PER_LOOP; i++) {
        // A worker dies once a quarter of the requests are through, with the rest still to come.
        if (++done === (LOOPS * PER_LOOP) / 4) process.kill(victim, "SIGKILL");
        const outcome = await getOnce(`${group.url}/.well-known/oauth-authorization-server`, 20_000);
        if (outcome === 200) ok++;
        else lost.push(String(outcome));
      }
    };
    await Promise.all(Array.from({ length: LOOPS }, loop));
    // No error answers and no request left hanging: one accepted at the moment the worker died
    // once stayed open, unanswered, until the client gave up. Each request has a connection of its
    // own, so no more can fail than were in flight on the killed worker (one per loop at most).
    expect(lost.filter((l) => l !== "connection lost")).toEqual([]);
    expect(lost.length).toBeLessThanOrEqual(LOOPS);
    expect(ok + lost.length).toBe(LOOPS * PER_LOOP);
    // The supervisor replaced it.
    await until("a replacement worker", () => {
      const now = group.workers();
      return now.length === 2 && !now.includes(first[0]!) ? true : undefined;
    });
  }, 300_000);
});

/**
 * One GET on a connection of its own (no keep-alive, so none is reused after its worker died):
 * the status, "connection lost" when the connection broke, or "hung" when nothing came back in `ms`.
 */
function getOnce(url: string, ms: number): Promise<number | "connection lost" | "hung"> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false }, (res) => {
      res.resume();
      res.on("close", () => resolve(res.complete ? res.statusCode! : "connection lost"));
    });
    req.setTimeout(ms, () => {
      resolve("hung");
      req.destroy();
    });
    req.on("error", () => resolve("connection lost"));
  });
}
