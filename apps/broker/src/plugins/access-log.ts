import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from "fastify";
import fp from "fastify-plugin";
import { redactUrl } from "../logger.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** The error code a refused request was answered with; it goes on the request's access-log line. */
    refusal?: string;
  }
}

function line(request: FastifyRequest, reply: FastifyReply, route: string) {
  request.log.info(
    {
      method: request.method,
      route,
      url: redactUrl(request.url),
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      client: request.client?.id ?? request.token?.clientId,
      ip: request.ip,
      ...(request.refusal ? { error: request.refusal } : {}),
    },
    "request",
  );
}

/**
 * One access-log line per request, written when the response is sent (Fastify's own pair of
 * "incoming request" / "request completed" lines is turned off in app.ts). The route label is
 * fixed when each route is added, as in the metrics plugin: reading request.routeOptions builds
 * a new object on every access. Unmatched URLs get their own hook; they have no route.
 */
async function accessLog(app: FastifyInstance) {
  app.decorateRequest("refusal", undefined);
  app.addHook("onRoute", (route) => {
    const label = route.url;
    const log: onResponseHookHandler = (request, reply, done) => {
      line(request, reply, label);
      done();
    };
    route.onResponse = route.onResponse ? [...[route.onResponse].flat(), log] : log;
  });
  app.addHook("onResponse", (request, reply, done) => {
    if (request.is404) line(request, reply, "(unmatched)");
    done();
  });
}

export const accessLogPlugin = fp(accessLog, { name: "access-log" });
