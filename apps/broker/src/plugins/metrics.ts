import type { FastifyInstance, onResponseHookHandler } from "fastify";
import fp from "fastify-plugin";
import { collectDefaultMetrics, type Registry } from "prom-client";
import { createRequestHistogram } from "./request-histogram.ts";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Leaves the route out of the request metrics (e.g. /metrics itself). */
    disableMetrics?: boolean;
  }
}

/**
 * Prometheus request counts and latencies: one histogram observed when each response is sent,
 * from Fastify's own timing (a per-request timer costs far more on the hot paths).
 */
async function metrics(app: FastifyInstance, { registry }: { registry: Registry }) {
  collectDefaultMetrics({ register: registry });
  const duration = createRequestHistogram("http_request_duration_seconds", "Request duration in seconds, by method, route and status code", [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  ]);
  registry.registerMetric(duration.metric);
  // One onResponse hook per route, with its label fixed when the route is added: reading
  // request.routeOptions builds a new object on each access. Callback style: an async hook would
  // cost every request a promise and a tick. Unmatched URLs have no route, so they are not
  // labelled one by one (that would let any caller grow the label set).
  app.addHook("onRoute", (route) => {
    if (route.config?.disableMetrics) return;
    const label = route.url;
    const observe: onResponseHookHandler = (request, reply, done) => {
      duration.observe(request.method, label, reply.statusCode, reply.elapsedTime / 1000);
      done();
    };
    route.onResponse = route.onResponse ? [...[route.onResponse].flat(), observe] : observe;
  });
}

export const metricsPlugin = fp(metrics, { name: "metrics" });
