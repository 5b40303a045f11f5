import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LedgerError } from "@link-broker/consent-ledger";
import fp from "fastify-plugin";
import { isInvalidTextError } from "./invalid-text-error.ts";
import { BrokerError, OAuthError, PageError, ServiceUnavailableError } from "../errors.ts";
import { errorPage, sendPage } from "../web/html.ts";
import { isDatabaseUnavailable } from "./database-unavailable.ts";

/** Which error shape a route answers with (DESIGN.md "HTTP contract"). */
export type ErrorFormat = "json" | "oauth" | "page";

declare module "fastify" {
  interface FastifyContextConfig {
    errorFormat?: ErrorFormat;
  }
}

function formatOf(request: FastifyRequest): ErrorFormat {
  return request.routeOptions.config?.errorFormat ?? "json";
}

/** Seconds a caller is told to wait while the database is away. */
const DATABASE_RETRY_AFTER = 5;

/**
 * Framework errors (bad JSON, wrong content type, body too large, validation) are client errors;
 * ledger errors keep their stable code and status; a database that is away or saturated is a 503.
 */
function toBrokerError(error: FastifyError, format: ErrorFormat): BrokerError {
  if (error instanceof BrokerError) return error;
  // A backstop behind the input guard: text the database cannot store is bad input, not a fault.
  if (isInvalidTextError(error)) return badInput(format, "Request holds characters the broker does not accept", 400);
  if (error instanceof LedgerError) return new BrokerError(error.code, error.message, error.status);
  if (isDatabaseUnavailable(error)) return new ServiceUnavailableError("The service is briefly unavailable; retry shortly", "temporarily_unavailable", DATABASE_RETRY_AFTER);
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  if (status >= 500) return new BrokerError("internal_error", "Internal error", 500);
  const message = error.validation ? `Invalid request: ${error.message}` : error.message;
  if (status === 429) {
    const e = new BrokerError("rate_limited", "Too many requests; slow down and retry later", 429);
    return e;
  }
  return badInput(format, message, status);
}

function badInput(format: ErrorFormat, message: string, status: number): BrokerError {
  if (format === "oauth") return new OAuthError("invalid_request", message, status === 401 ? 400 : status);
  if (format === "page") return new PageError("invalid_request", "This link is not valid", message, "Go back to Messenger and start again.", status);
  return new BrokerError(status === 404 ? "not_found" : status === 413 ? "payload_too_large" : status === 415 ? "unsupported_media_type" : "invalid_request", message, status);
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: BrokerError) {
  // The route decides the shape (DESIGN.md): an OAuth error on a JSON route (e.g. a bearer token
  // refused by /ledger/check) answers `{ error, message, request_id }` with the same code.
  const format = error instanceof PageError ? "page" : formatOf(request);
  reply.status(error.status).headers(error.headers);
  if (format === "page") {
    const pageError =
      error instanceof PageError
        ? error
        : new PageError(error.code, error.status === 429 || error.status === 503 ? "Please wait" : "Something went wrong", error.expose ? error.message : "The broker could not finish this step.", error.status === 503 ? "Wait a moment, then try again." : "Go back to Messenger and start again.", error.status);
    return sendPage(reply, errorPage({ title: pageError.title, message: pageError.message, nextStep: pageError.nextStep, requestId: request.id, returnUrl: pageError.returnUrl }), error.status);
  }
  reply.header("cache-control", "no-store");
  if (format === "oauth") {
    return reply.type("application/json").send(JSON.stringify({ error: error.code, error_description: error.message }));
  }
  return reply.type("application/json").send(JSON.stringify({ error: error.code, message: error.message, request_id: request.id }));
}

/**
 * Fastify's `frameworkErrors`: a URL the router refuses before any route matches (a path
 * parameter over `maxParamLength`, a malformed escape) answers the documented JSON shape instead
 * of Fastify's own, with a request id, and without echoing the path.
 */
export function frameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const tooLong = error.code === "FST_ERR_MAX_PARAM_LENGTH";
  const e = tooLong ? new BrokerError("uri_too_long", "A path parameter is too long", 414) : new BrokerError("invalid_request", "The URL is not valid", 400);
  request.log.info({ code: e.code, status: e.status }, "request refused");
  return reply
    .status(e.status)
    .headers({ "x-request-id": request.id, "x-content-type-options": "nosniff", "cache-control": "no-store" })
    .type("application/json")
    .send(JSON.stringify({ error: e.code, message: e.message, request_id: request.id }));
}

/** The path for a message, without the query, cut to 100 characters (a caller chose it). */
const shortPath = (url: string) => {
  const path = url.split("?")[0] ?? "";
  return path.length > 100 ? `${path.slice(0, 100)}…` : path;
};

async function errorHandler(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const brokerError = toBrokerError(error, formatOf(request));
    if (brokerError.status === 503) {
      // A passing condition (database away, overload), not a bug: a warning without a stack for
      // the database; shed load is only counted (the access log has it), as logging costs too.
      request.refusal = brokerError.code;
      if (!(error instanceof BrokerError)) request.log.warn({ error_code: brokerError.code, err: (error as Error).message?.split("\n").filter(Boolean).at(-1) }, "service unavailable");
    }
    // A page error is a step the flow refused on purpose (a bank that is down included): not a failure.
    else if (brokerError.status >= 500 && !(error instanceof PageError)) request.log.error({ err: error }, "request failed");
    else request.refusal = brokerError.code;
    return sendError(request, reply, brokerError);
  });
  app.setNotFoundHandler((request, reply) => {
    request.refusal = "not_found";
    return sendError(request, reply, new BrokerError("not_found", `No route ${request.method} ${shortPath(request.url)}`, 404));
  });
}

export const errorHandlerPlugin = fp(errorHandler, { name: "error-handler" });
