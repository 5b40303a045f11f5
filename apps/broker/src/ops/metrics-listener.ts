import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import { errorHandlerPlugin } from "../plugins/error-handler.ts";
import { metricsRoute } from "./ops-routes.ts";

/**
 * The operations listener (METRICS_PORT): /metrics alone, apart from the public listener, so it
 * can stay on a private network. Nothing else is served on it.
 */
export async function buildMetricsListener(registry: Registry): Promise<FastifyInstance> {
  const app = Fastify({ logger: false }).withTypeProvider<TypeBoxTypeProvider>();
  await app.register(errorHandlerPlugin);
  await app.register(metricsRoute, { registry, metrics: { access: "open" } });
  return app;
}
