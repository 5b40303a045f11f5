import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from "fastify";
import fp from "fastify-plugin";
import type { Logger } from "pino";
import { redactUrl } from "../logger.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The error code a refused request was answered with; it goes on the request's access-log line. */
    refusal?: string;
    /** Milliseconds the request waited on servers outside (net/upstream-meter.ts); `upstream_ms` on its line. */
    upstreamMs: number;
  }
}

function line(log: Logger, request: FastifyRequest, reply: FastifyReply, route: string) {
  log.info(
    {
      reqId: request.id,
      method: request.method,
      route,
      url: redactUrl(request.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      client: request.client?.id ?? request.token?.clientId,
      ip: request.ip,
      ...(request.upstreamMs ? { upstream_ms: Math.round(request.upstreamMs * 100) / 100 } : {}),
      ...(request.refusal ? { error: request.refusal } : {}),
    },
    "request",
  );
}

/**
 * One access-log line per request, written when the response is sent (Fastify's own pair of
 * "incoming request" / "request completed" lines is turned off in app.ts). The route label is
 * fixed when each route is added, as in the metrics plugin: reading request.routeOptions builds
 * a new object on every access. Unmatched URLs get their own hook; they have no route. Lines go
 * through `logger` (logger.ts createAccessLogger: the app's destination, without redaction).
 */
async function accessLog(app: FastifyInstance, options: { logger?: Logger }) {
  app.decorateRequest("refusal", undefined);
  app.decorateRequest("upstreamMs", 0);
  // Without a logger of its own (logging off), nothing is written.
  const log = options.logger;
  if (!log) return;
  app.addHook("onRoute", (route) => {
    const label = route.url;
    const write: onResponseHookHandler = (request, reply, done) => {
      line(log, request, reply, label);
      done();
    };
    route.onResponse = route.onResponse ? [...[route.onResponse].flat(), write] : write;
  });
  app.addHook("onResponse", (request, reply, done) => {
    if (request.is404) line(log, request, reply, "(unmatched)");
    done();
  });
}

export const accessLogPlugin = fp(accessLog, { name: "access-log" });
