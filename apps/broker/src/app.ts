import { randomUUID } from "node:crypto";
import formbody from "@fastify/formbody";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { ConsentLedger, LedgerSigner } from "@link-broker/consent-ledger";
import type { Db } from "@link-broker/db";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import promClient from "prom-client";
import { systemClock, type Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { createSealer, type Sealer } from "./crypto/seal.ts";
import { registerLinking, type LinkingOverrides } from "./linking/register-linking.ts";
import type { LinkingDeps } from "./linking/linking-deps.ts";
import { createBrokerLedger, registerLedger } from "./ledger/broker-ledger.ts";
import { createLinksRepo } from "./links/links-repo.ts";
import { loggerOptions } from "./logger.ts";
import { linkingDepsOf } from "./linking/linking-wiring.ts";
import { createOAuth, type OAuthOptions } from "./oauth/oauth-module.ts";
import type { ConsentCheck } from "./oauth/token/token-service.ts";
import { oauthRoutes } from "./oauth/oauth-routes.ts";
import { opsRoutes } from "./ops/ops-routes.ts";
import { accessLogPlugin } from "./plugins/access-log.ts";
import { errorHandlerPlugin } from "./plugins/error-handler.ts";
import { docsCsp, frameProtectionPlugin } from "./plugins/frame-protection.ts";
import { metricsPlugin } from "./plugins/metrics.ts";

/** Everything the broker needs from outside; tests swap any of them. */
export interface AppDeps {
  config: Config;
  db: Db;
  clock?: Clock;
  /** false silences logs (tests); otherwise pino at config.logLevel. */
  logger?: boolean;
  /** Where log lines go (default stdout); tests capture them to check redaction. */
  logStream?: { write(line: string): void };
  /** Replaces the OAuth and ledger functions the linking flow uses (default: the real ones). */
  linking?: LinkingDeps | ((ctx: BrokerContext) => LinkingDeps);
  /** Test overrides for the linking flow (Graph client, bank relying party, job runner). */
  linkingOverrides?: LinkingOverrides;
  /** OAuth hooks and limits (consent check, rate limits). */
  oauth?: OAuthOptions;
  /** Signs ledger receipts and checkpoints; default: the broker's signing keys. */
  ledgerSigner?: LedgerSigner;
}

/** The broker's shared services, built once per app from its deps. */
export interface BrokerContext {
  config: Config;
  db: Db;
  clock: Clock;
  sealer: Sealer;
  ledger: ConsentLedger;
}

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const { config, db } = deps;
  const clock = deps.clock ?? systemClock;
  const base = { config, db, clock, sealer: createSealer(config.masterKey) };
  // Refresh and introspection end a grant whose consent is no longer active in the ledger, and
  // the ledger signs receipts and checkpoints with the keys the broker publishes at /jwks.json.
  let ledger: ConsentLedger | undefined;
  const consentCheck: ConsentCheck = async (grant) => !grant.consentId || (ledger !== undefined && (await ledger.isActive(grant.consentId)));
  const linksRepo = createLinksRepo(db);
  const oauth = createOAuth(base, { consentCheck, linkCheck: linksRepo.holdsConsent, ...deps.oauth });
  ledger = await createBrokerLedger({ config, db, clock, signer: deps.ledgerSigner ?? oauth.signer });
  const ctx: BrokerContext = { ...base, ledger };

  const app = Fastify({
    logger: deps.logger === false ? false : loggerOptions(config.logLevel, deps.logStream),
    genReqId: () => randomUUID(),
    // plugins/access-log.ts writes one line per request instead of Fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    trustProxy: config.production,
    bodyLimit: 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook("onRequest", (request, reply, done) => {
    reply.headers({ "x-request-id": request.id, "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
    done();
  });

  await app.register(errorHandlerPlugin);
  await app.register(accessLogPlugin);
  await app.register(frameProtectionPlugin);
  await app.register(formbody);

  const registry = new promClient.Registry();
  await app.register(metricsPlugin, { registry });

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "link-broker",
        version: "1",
        description: "Account-linking OAuth broker for banks: Messenger linking, scoped tokens, consent ledger.",
      },
      servers: [{ url: config.publicUrl }],
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs", staticCSP: true, transformStaticCSP: docsCsp });

  await app.register(opsRoutes, { db, registry });
  app.decorate("broker", ctx);
  app.decorate("oauth", oauth);
  await app.register(oauthRoutes);
  await registerLedger(app, ledger, config);
  const linkingDeps = typeof deps.linking === "function" ? deps.linking(ctx) : (deps.linking ?? linkingDepsOf(oauth, ledger));
  await registerLinking(app, ctx, linkingDeps, deps.linkingOverrides);
  return app;
}

declare module "fastify" {
  interface FastifyInstance {
    broker: BrokerContext;
  }
}
