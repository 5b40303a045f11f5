import type { FastifyInstance } from "fastify";
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
  // Callback style: an async hook would cost every request a promise and a tick.
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url;
    // Unmatched URLs are not labelled one by one (that would let any caller grow the label set).
    if (route !== undefined && !request.routeOptions.config?.disableMetrics) {
      duration.observe(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    }
    done();
  });
}

export const metricsPlugin = fp(metrics, { name: "metrics" });
