// Which content type a route's body takes: one rule for the OpenAPI document and for the server,
// so the document cannot promise a type the route refuses, or the reverse.
import type { FastifyInstance, onRequestHookHandler, RouteOptions } from "fastify";
import { BrokerError } from "../errors.ts";
import { formBodyValidator } from "../oauth/checks/check-form.ts";

export const FORM = "application/x-www-form-urlencoded";
export const JSON_TYPE = "application/json";

/** Paths whose bodies come from HTML forms in a browser (the linking webview, the console). */
const HTML_FORM_PATHS = /^\/(link|console)(\/|$)/;

/**
 * The one content type a route's body takes: what its schema says in `consumes`, else form for
 * the OAuth form endpoints (RFC 6749 §3.2), pages and HTML-form paths, else JSON.
 */
export function bodyContentType(route: Pick<RouteOptions, "validatorCompiler" | "config" | "schema" | "url">): string {
  const declared = (route.schema as { consumes?: string[] } | undefined)?.consumes?.[0];
  if (declared) return declared;
  const form = route.validatorCompiler === formBodyValidator || route.config?.errorFormat === "page" || HTML_FORM_PATHS.test(route.url ?? "");
  return form ? FORM : JSON_TYPE;
}

const mediaType = (header: string | undefined) => (header ?? "").split(";")[0]!.trim().toLowerCase();

/**
 * Every route with a body schema refuses other content types with 415, before the body is read.
 * The OAuth form endpoints check theirs in their own first hook (an OAuth `invalid_request`).
 */
export function enforceBodyContentTypes(app: FastifyInstance) {
  app.addHook("onRoute", (route) => {
    if (!route.schema?.body || route.validatorCompiler === formBodyValidator) return;
    const expected = bodyContentType(route);
    const check: onRequestHookHandler = (request, _reply, done) => {
      if (mediaType(request.headers["content-type"]) === expected) return done();
      done(new BrokerError("unsupported_media_type", `the body must be ${expected}`, 415));
    };
    route.onRequest = [...(Array.isArray(route.onRequest) ? route.onRequest : route.onRequest ? [route.onRequest] : []), check];
  });
}
