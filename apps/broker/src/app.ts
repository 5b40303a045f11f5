import { randomUUID } from "node:crypto";
import formbody from "@fastify/formbody";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import type { ConsentLedger, LedgerSigner } from "@link-broker/consent-ledger";
import type { Db } from "@link-broker/db";
import Fastify, { type FastifyInstance } from "fastify";
import metricsPlugin from "fastify-metrics";
import promClient from "prom-client";
import { systemClock, type Clock } from "./clock.ts";
import type { Config } from "./config.ts";
import { createSealer, type Sealer } from "./crypto/seal.ts";
import { createBrokerLedger, registerLedger } from "./ledger/broker-ledger.ts";
import { loggerOptions } from "./logger.ts";
import { opsRoutes } from "./ops/ops-routes.ts";
import { errorHandlerPlugin } from "./plugins/error-handler.ts";

/** Everything the broker needs from outside; tests swap any of them. */
export interface AppDeps {
  config: Config;
  db: Db;
  clock?: Clock;
  /** false silences logs (tests); otherwise pino at config.logLevel. */
  logger?: boolean;
  /** Signs ledger receipts and checkpoints; default: a temporary key until OAuth's keyStore lands. */
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
  const ctx: BrokerContext = {
    config,
    db,
    clock,
    sealer: createSealer(config.masterKey),
    ledger: await createBrokerLedger({ config, db, clock, signer: deps.ledgerSigner }),
  };

  const app = Fastify({
    logger: deps.logger === false ? false : loggerOptions(config.logLevel),
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    trustProxy: config.production,
    bodyLimit: 64 * 1024,
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: "array", allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.addHook("onRequest", async (request, reply) => {
    reply.header("x-request-id", request.id);
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
  });

  await app.register(errorHandlerPlugin);
  await app.register(formbody);

  const registry = new promClient.Registry();
  // CommonJS module: its plugin is the `default` export of module.exports.
  await app.register(metricsPlugin.default, {
    endpoint: null,
    defaultMetrics: { enabled: true, register: registry },
    routeMetrics: {
      enabled: { histogram: true, summary: false },
      registeredRoutesOnly: true,
      overrides: { histogram: { registers: [registry] }, summary: { registers: [registry] } },
    },
  });

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
  await app.register(swaggerUi, { routePrefix: "/docs" });

  await app.register(opsRoutes, { db, registry });
  await registerLedger(app, ctx.ledger, config);

  app.decorate("broker", ctx);
  return app;
}

declare module "fastify" {
  interface FastifyInstance {
    broker: BrokerContext;
  }
}
