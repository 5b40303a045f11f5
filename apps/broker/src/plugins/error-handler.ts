import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { LedgerError } from "@link-broker/consent-ledger";
import fp from "fastify-plugin";
import { BrokerError, OAuthError, PageError } from "../errors.ts";
import { errorPage, sendPage } from "../web/html.ts";

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

/**
 * Framework errors (bad JSON, wrong content type, body too large, validation) are client errors;
 * ledger errors keep their stable code and status.
 */
function toBrokerError(error: FastifyError, format: ErrorFormat): BrokerError {
  if (error instanceof BrokerError) return error;
  if (error instanceof LedgerError) return new BrokerError(error.code, error.message, error.status);
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  if (status >= 500) return new BrokerError("internal_error", "Internal error", 500);
  const message = error.validation ? `Invalid request: ${error.message}` : error.message;
  if (status === 429) {
    const e = new BrokerError("rate_limited", "Too many requests; slow down and retry later", 429);
    return e;
  }
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
        : new PageError(error.code, error.status === 429 ? "Please wait" : "Something went wrong", error.expose ? error.message : "The broker could not finish this step.", "Go back to Messenger and start again.", error.status);
    return sendPage(reply, errorPage({ title: pageError.title, message: pageError.message, nextStep: pageError.nextStep, requestId: request.id, returnUrl: pageError.returnUrl }), error.status);
  }
  reply.header("cache-control", "no-store");
  if (format === "oauth") {
    return reply.type("application/json").send(JSON.stringify({ error: error.code, error_description: error.message }));
  }
  return reply.type("application/json").send(JSON.stringify({ error: error.code, message: error.message, request_id: request.id }));
}

async function errorHandler(app: FastifyInstance) {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const brokerError = toBrokerError(error, formatOf(request));
    // A page error is a step the flow refused on purpose (a bank that is down included): not a failure.
    if (brokerError.status >= 500 && !(error instanceof PageError)) request.log.error({ err: error }, "request failed");
    else request.refusal = brokerError.code;
    return sendError(request, reply, brokerError);
  });
  app.setNotFoundHandler((request, reply) => {
    request.refusal = "not_found";
    return sendError(request, reply, new BrokerError("not_found", `No route ${request.method} ${request.url.split("?")[0]}`, 404));
  });
}

export const errorHandlerPlugin = fp(errorHandler, { name: "error-handler" });
