import { randomUUID } from "node:crypto";
import formbody from "@fastify/formbody";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { LedgerKeys } from "@link-broker/consent-ledger";
import type { Db } from "@link-broker/db";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import promClient from "prom-client";
import type { BrokerContext } from "./broker-context.ts";
import { systemClock, type Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { createConsoleModule } from "./console/console-module.ts";
import { createEventsModule } from "./events/events-module.ts";
import type { ModulePorts } from "./contracts.ts";
import { checkMasterKey } from "./master-key/master-key-check.ts";
import { createSealer } from "./crypto/seal.ts";
import { createSealedValuesRepo } from "./master-key/sealed-values-repo.ts";
import { createLedgerModule } from "./ledger/ledger-module.ts";
import type { BankIdp } from "./linking/bank-idp.ts";
import { createLinkingModule } from "./linking/linking-module.ts";
import type { LinkLimits } from "./linking/linking-service.ts";
import { createLinksRepo } from "./links/links-repo.ts";
import { createLinksModule } from "./links/links-module.ts";
import { createAccessLogWriter, lazyChildLogger, loggerOptions } from "./logger.ts";
import type { GraphClient } from "./messenger/graph-client.ts";
import { createMessengerModule } from "./messenger/messenger-module.ts";
import { createWriteCoalescer } from "./net/write-coalescing.ts";
import { createKeysModule } from "./oauth/keys/keys-module.ts";
import { createOAuthModule, type OAuthModuleDeps } from "./oauth/oauth-module.ts";
import { registerOpenApi } from "./openapi/openapi-plugin.ts";
import { opsRoutes } from "./ops/ops-routes.ts";
import { accessLogPlugin } from "./plugins/access-log.ts";
import { errorHandlerPlugin, frameworkError } from "./plugins/error-handler.ts";
import { frameProtectionPlugin } from "./plugins/frame-protection.ts";
import { inputGuardPlugin } from "./plugins/input-guard.ts";
import { loadSheddingPlugin, type LoadSheddingOptions } from "./plugins/load-shedding.ts";
import { metricsPlugin } from "./plugins/metrics.ts";
import { securityHeadersPlugin } from "./plugins/security-headers.ts";
import { createRateLimiter } from "./plugins/rate-limit.ts";
import { createRateLimitRepo } from "./plugins/rate-limit-repo.ts";
import { createScheduler } from "./scheduler.ts";

/** Everything the broker needs from outside; tests swap any of them. */
export interface AppDeps {
  config: Config;
  db: Db;
  clock?: Clock;
  /** false silences logs (tests); otherwise pino at config.logLevel. */
  logger?: boolean;
  /** Where log lines go (default stdout); tests capture them to check redaction. */
  logStream?: { write(line: string): void };
  /** The Graph API client (default: Graph at MESSENGER_GRAPH_URL). */
  graph?: GraphClient;
  /** The relying party of the banks' OpenID providers (default: openid-client). */
  bankIdp?: BankIdp;
  /** Test doubles for what the links and linking modules ask of OAuth and the ledger, and for /links client auth. */
  ports?: Partial<ModulePorts>;
  /** OAuth limits over the defaults (the benchmark raises them). */
  oauth?: Partial<Pick<OAuthModuleDeps, "rateLimits">>;
  /** The ledger signing keys (receipts, checkpoints); default: the broker's, sealed in its database. */
  ledgerKeys?: LedgerKeys;
  /** false: periodic tasks do not run on their own (tests run them with `modules.scheduler.run`). */
  startScheduler?: boolean;
  /** Load-shedding limits and pace (default: from config); tests lower them. */
  loadShedding?: Partial<LoadSheddingOptions>;
  /** /link starts per caller address and per client over the defaults (tests lower them). */
  linkLimits?: LinkLimits;
}

/**
 * Every module, built once, in dependency order, in one straight line: keys → ledger → OAuth →
 * Messenger → links → linking → events → console. A module is `create<Domain>Module(deps)`: its services, and a
 * route plugin whose options are what it needs from the other modules (registered in buildApp).
 */
function createModules(ctx: BrokerContext, deps: AppDeps) {
  const keys = createKeysModule(ctx);
  const ledger = createLedgerModule({ ...ctx, keys: deps.ledgerKeys });
  const linksRepo = createLinksRepo(ctx.db);
  // A refresh token lives as long as its consent, whatever the consent's duration (1–365 days):
  // the code exchange, the refresh grant and introspection read the consent's row with the code
  // or token (one query) and ask the ledger's rule, which ends the grant of a consent that ended.
  const consentUntil: OAuthModuleDeps["consentUntil"] = (consent) => ledger.ledger.activeUntilOf(consent);
  const oauth = createOAuthModule({ ...ctx, keyStore: keys.keyStore, consentUntil, ...deps.oauth });
  const ports: ModulePorts = { oauth, ledger: ledger.ledger, clientAuth: oauth.clientAuth, ...deps.ports };
  const messenger = createMessengerModule({ ...ctx, clients: oauth.clients, graph: deps.graph });
  const links = createLinksModule({ ...ctx, repo: linksRepo, oauth: ports.oauth, ledger: ports.ledger, jobHandlers: messenger.jobHandlers });
  const linking = createLinkingModule({ ...ctx, clients: oauth.clients, graph: messenger.graph, links: links.repo, oauth: ports.oauth, ledger: ports.ledger, bankIdp: deps.bankIdp, linkLimits: deps.linkLimits });
  const events = createEventsModule({ ...ctx, ledger: ledger.ledger, signer: keys.signer, clients: oauth.clients });
  const consoleModule = createConsoleModule({ ...ctx, ledger: ledger.ledger, links: links.unlinker, clients: { list: oauth.listClients, disable: oauth.disableClient }, events: { ofConsent: events.ofConsent }, resetSecondFactor: linking.resetSecondFactor });
  return { ctx, scheduler: ctx.scheduler, keys, ledger, oauth, ports, messenger, links, linking, events, console: consoleModule };
}
export type BrokerModules = ReturnType<typeof createModules>;

/**
 * The composition root: the shared context, the modules (createModules), the cross-cutting
 * plugins, then each module's routes. Never listens (tests use inject).
 */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db } = deps;
  const clock = deps.clock ?? systemClock;
  const app = Fastify({
    logger: deps.logger === false ? false : loggerOptions(config.logLevel, deps.logStream),
    genReqId: () => randomUUID(),
    // plugins/access-log.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // request.log is made on its first line (logger.ts LazyChildLogger): most requests write none.
    ...(deps.logger === false ? {} : { childLoggerFactory: lazyChildLogger }),
    requestIdHeader: false,
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    frameworkErrors: frameworkError,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();
  // Each event-loop turn's responses are written together (net/write-coalescing.ts).
  app.server.on("connection", createWriteCoalescer());

  // Shared by every module.
  const scheduler = createScheduler({ onError: (task, err) => app.log.warn({ task, err }, "periodic task failed") });
  const rateLimiter = createRateLimiter({ repo: createRateLimitRepo(db), now: () => clock.now().getTime() });
  const ctx: BrokerContext = { config, db, clock, sealer: createSealer(config.masterKey, config.previousMasterKeys), log: app.log, scheduler, rateLimiter };

  const modules = createModules(ctx, deps);
  const { ledger, oauth, messenger, links, linking, ports } = modules;

  // Cross-cutting plugins.
  app.addHook("onRequest", (request, reply, done) => {
    // One header at a time: reply.headers({...}) costs every request an object and its key list.
    reply.header("x-request-id", request.id).header("x-content-type-options", "nosniff").header("referrer-policy", "no-referrer");
    done();
  });
  await app.register(errorHandlerPlugin);
  await app.register(accessLogPlugin, { write: deps.logger === false ? undefined : createAccessLogWriter(config.logLevel, deps.logStream) });
  await app.register(loadSheddingPlugin, { ...config.loadShedding, ...deps.loadShedding });
  await app.register(securityHeadersPlugin, { production: config.production });
  await app.register(frameProtectionPlugin);
  await app.register(formbody);
  await app.register(inputGuardPlugin);

  const registry = new promClient.Registry();
  await app.register(metricsPlugin, { registry });
  for (const metric of modules.events.metrics) registry.registerMetric(metric);
  await registerOpenApi(app, { publicUrl: config.publicUrl, ui: config.docs });

  // Routes: each module's plugin, given what it needs from the others. /metrics is on
  // METRICS_PORT's listener when set, else behind METRICS_TOKEN, else open only in development.
  const metrics = config.metricsPort !== undefined ? ({ access: "off" } as const) : config.metricsToken ? ({ access: "token", token: config.metricsToken } as const) : config.production ? ({ access: "off" } as const) : ({ access: "open" } as const);
  const sealedValues = createSealedValuesRepo(db);
  await app.register(opsRoutes, { db, registry, metrics, instanceId: config.instanceId, checkMasterKey: () => checkMasterKey({ repo: sealedValues, sealer: ctx.sealer }) });
  await app.register(oauth.routes);
  await app.register(ledger.routes, { requireScope: oauth.requireScope, staffOf: modules.console.services.staffOfRequest });
  await app.register(messenger.routes, { links: links.unlinker });
  await app.register(links.routes, { clientAuth: ports.clientAuth });
  await app.register(linking.routes);
  await app.register(modules.events.routes, { clientAuth: ports.clientAuth });
  await app.register(modules.console.routes);

  // Lifecycle: periodic tasks run while the app is up; the ledger's listener closes with it.
  if (deps.startScheduler !== false) app.addHook("onReady", async () => scheduler.start());
  app.addHook("onClose", async () => {
    await scheduler.stop();
    await modules.events.close();
    await ledger.ledger.close();
  });
  app.decorate("modules", modules);
  app.decorate("metricsRegistry", registry);
  return app;
}

/**
 * Only the configured proxies' X-Forwarded-For is believed; anyone else could name any address.
 * Fastify refuses a bare hop count (it cannot tell a proxy from a direct caller), so a hop count
 * is a function here: it suits a broker reachable only through that many proxies.
 */
function trustProxyOption(trust: Config["trustProxy"]): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (trust === false) return false;
  if (typeof trust === "number") return (_address, hop) => hop < trust;
  return [...trust];
}

declare module "fastify" {
  interface FastifyInstance {
    /** The app's modules, for main, the CLI, tests and benchmarks. Routes get what they use as options, never from here. */
    modules: BrokerModules;
    /** The Prometheus registry, for the operations listener (main.ts). */
    metricsRegistry: promClient.Registry;
  }
}
