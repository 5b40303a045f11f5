import type { LinkLimits } from "../../src/linking/linking-service.ts";
import { randomBytes } from "node:crypto";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import type { FastifyInstance } from "fastify";
import { buildTestApp } from "./suite-log.ts";
import type { Clock } from "../../src/clock.ts";
import type { Config } from "../../src/config.ts";
import type { ModulePorts } from "../../src/contracts.ts";
import { createSealer, type Sealer } from "../../src/crypto/seal.ts";
import { hashToken, randomToken } from "../../src/crypto/hash.ts";
import { clientSecretContext } from "../../src/oauth/clients/client-secrets.ts";
import { testConfig } from "./app.ts";
import { startBankIdp, type BankIdpServer } from "./bank-idp.ts";
import { startFakeGraph, type FakeGraph } from "./fake-graph.ts";
import { registerClient, type Registered } from "./oauth.ts";
import { freePort } from "./ports.ts";
import { startRoundRobinProxy, type RoundRobinProxy } from "./round-robin-proxy.ts";


/** A settable clock (defaults to real time). */
export function testClock(): Clock & { offsetMs: number; advance(ms: number): void } {
  return {
    offsetMs: 0,
    now() {
      return new Date(Date.now() + this.offsetMs);
    },
    advance(ms) {
      this.offsetMs += ms;
    },
  };
}

export interface LinkingEnv {
  /** The broker; with `replicas`, the first of them. */
  broker: FastifyInstance;
  /** With `replicas` > 1: every broker on the one database, each on its own port, behind `proxy`. */
  replicas: { app: FastifyInstance; url: string }[];
  /** With `replicas` > 1: the round-robin proxy at `brokerUrl` (the issuer every replica names). */
  proxy?: RoundRobinProxy;
  brokerUrl: string;
  config: Config;
  db: TestDb;
  sealer: Sealer;
  graph: FakeGraph;
  idp: BankIdpServer;
  clock: ReturnType<typeof testClock>;
  /** Messenger's redirect_uri base (allowlisted). */
  messengerRedirect: string;
  /** TOTP secrets learnt from enrolment pages, by `<clientId>:<username>`. */
  totpSecrets: Map<string, string>;
  seedClient(options?: SeedClientOptions): Promise<SeededClient>;
  /**
   * Registers a bank through `POST /connect/register` with `messenger` and `bank_idp` objects
   * pointing at the fake Graph and the test IdP; it may also ask the ledger (`ledger:check`).
   * `service`: a back-office client with `ledger:check` only.
   */
  registerBank(options?: { name?: string; metadata?: Record<string, unknown>; service?: boolean }): Promise<RegisteredBank>;
  close(): Promise<void>;
}

export interface RegisteredBank extends Registered {
  client_secret: string;
  appSecret: string;
  verifyToken: string;
}

export interface SeedClientOptions {
  id?: string;
  name?: string;
  requirePar?: boolean;
  scopes?: string[];
  messenger?: boolean;
  bankIdp?: boolean;
  /** The operator's own per-client limits (CLI `clients create --rate-limits`). */
  rateLimits?: Record<string, string>;
}

export interface SeededClient {
  id: string;
  name: string;
  appSecret: string;
  verifyToken: string;
}

/**
 * A listening broker with the linking flow, a real oidc-provider bank IdP and a fake Graph API,
 * all on loopback. The links and linking modules run on the broker's own OAuth server, ledger and
 * client authentication (what `buildApp` wires); `deps` may replace some for a test that needs to. Periodic tasks do not run on their own: tests
 * run them by name (`broker.modules.scheduler.run`).
 * `LB_TEST_LOG=1` prints the broker's error log lines (to see why a page answered 500).
 */
export async function startLinkingEnv(
  options: {
    deps?: "real" | Partial<ModulePorts>;
    /** /link limits over the defaults (tests lower them to stay small). */
    linkLimits?: LinkLimits;
    /** Every broker log line at `debug` and above goes here (the secrecy tests read them). */
    logStream?: { write(line: string): void };
    /** Brokers on the one database behind a round-robin proxy at `brokerUrl` (default 1: no proxy). */
    replicas?: number;
    /** Environment over the test configuration (e.g. BROKER_RATE_LIMITS). */
    env?: Record<string, string>;
  } = {},
): Promise<LinkingEnv> {
  const graph = await startFakeGraph();
  const port = await freePort();
  const brokerUrl = `http://127.0.0.1:${port}`;
  const idp = await startBankIdp({ redirectUri: `${brokerUrl}/link/callback` });
  const messengerRedirect = "http://127.0.0.1:9/messenger_platform/account_linking";
  const config = testConfig({ PUBLIC_URL: brokerUrl, MESSENGER_GRAPH_URL: graph.url, MESSENGER_REDIRECT_ALLOWLIST: messengerRedirect, ...(process.env.LB_TEST_LOG === "1" ? { LOG_LEVEL: "error" } : {}), ...(options.logStream ? { LOG_LEVEL: "debug" } : {}), ...options.env });
  const db = await createTestDb();
  const clock = testClock();
  const ports = options.deps === "real" || options.deps === undefined ? undefined : options.deps;
  const build = () =>
    buildTestApp({ config, db, clock, logger: process.env.LB_TEST_LOG === "1" || options.logStream !== undefined, ...(options.logStream ? { logStream: options.logStream } : {}), ports, linkLimits: options.linkLimits });
  const replicas: LinkingEnv["replicas"] = [];
  let proxy: RoundRobinProxy | undefined;
  if ((options.replicas ?? 1) === 1) {
    const app = await build();
    await app.listen({ port, host: "127.0.0.1" });
    replicas.push({ app, url: brokerUrl });
  } else {
    for (let i = 0; i < options.replicas!; i++) {
      const app = await build();
      const own = await freePort();
      await app.listen({ port: own, host: "127.0.0.1" });
      replicas.push({ app, url: `http://127.0.0.1:${own}` });
    }
    proxy = await startRoundRobinProxy(port, replicas.map((r) => r.url));
  }
  const broker = replicas[0]!.app;
  const sealer = createSealer(config.masterKey);

  return {
    broker,
    replicas,
    proxy,
    brokerUrl,
    config,
    db,
    sealer,
    graph,
    idp,
    clock,
    messengerRedirect,
    totpSecrets: new Map(),
    async seedClient(o = {}) {
      const id = o.id ?? `client-${randomBytes(4).toString("hex")}`;
      const name = o.name ?? "Demo Bank";
      const appSecret = randomToken();
      const verifyToken = randomToken(16);
      const seal = (value: string, field: Parameters<typeof clientSecretContext>[1]) => sealer.seal(value, clientSecretContext(id, field));
      const withMessenger = o.messenger !== false;
      const withIdp = o.bankIdp !== false;
      await db.prisma.client.create({
        data: {
          id,
          name,
          secretHash: hashToken(randomToken()),
          registrationTokenHash: hashToken(randomToken()),
          tokenEndpointAuthMethod: "client_secret_basic",
          grantTypes: ["authorization_code", "refresh_token"],
          scopes: o.scopes ?? ["balance:read", "transactions:read", "alerts:fraud", "support:chat"],
          requirePar: o.requirePar ?? false,
          ...(o.rateLimits ? { rateLimits: o.rateLimits } : {}),
          messengerPageId: withMessenger ? graph.pageId : null,
          messengerPageTokenSealed: withMessenger ? seal(graph.pageAccessToken, "page_access_token") : null,
          messengerAppSecretSealed: withMessenger ? seal(appSecret, "app_secret") : null,
          messengerVerifyTokenSealed: withMessenger ? seal(verifyToken, "verify_token") : null,
          bankIdpIssuer: withIdp ? idp.issuer : null,
          bankIdpClientId: withIdp ? idp.clientId : null,
          bankIdpSecretSealed: withIdp ? seal(idp.clientSecret, "bank_idp_client_secret") : null,
          bankIdpAuthMethod: withIdp ? "client_secret_basic" : null,
        },
      });
      return { id, name, appSecret, verifyToken };
    },
    async registerBank(o = {}) {
      const appSecret = randomToken();
      const verifyToken = randomToken(16);
      const metadata = o.service
        ? { client_name: o.name ?? "Bank back office", grant_types: ["client_credentials"], scope: "ledger:check", ...o.metadata }
        : {
            client_name: o.name ?? "Demo Bank",
            grant_types: ["authorization_code", "refresh_token", "client_credentials"],
            scope: "balance:read transactions:read alerts:fraud support:chat ledger:check",
            messenger: { page_id: graph.pageId, page_access_token: graph.pageAccessToken, app_secret: appSecret, verify_token: verifyToken },
            bank_idp: { issuer: idp.issuer, client_id: idp.clientId, client_secret: idp.clientSecret },
            ...o.metadata,
          };
      const registered = await registerClient(brokerUrl, metadata);
      return { ...registered, client_secret: registered.client_secret!, appSecret, verifyToken };
    },
    async close() {
      await proxy?.close();
      for (const r of replicas) await r.app.close();
      await Promise.all([graph.close(), idp.close()]);
      await db.drop();
    },
  };
}
