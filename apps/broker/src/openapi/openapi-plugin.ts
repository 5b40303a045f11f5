// The OpenAPI 3.1 document at /docs, generated from the route schemas. What every route shares is
// decided here, once: operationIds, request and response content types, security, and the error
// responses of each error format, so a new route is documented correctly by declaring its
// schemas and its `errorFormat` alone.
import swagger from "@fastify/swagger";
import { docsCsp } from "../plugins/frame-protection.ts";
import type { FastifyInstance, RouteOptions } from "fastify";
import { Type } from "typebox";
import pkg from "../../package.json" with { type: "json" };
import { bodyContentType, enforceBodyContentTypes, FORM } from "./content-types.ts";
import type { ErrorFormat } from "../plugins/error-handler.ts";
import { FORM_BODIES, RAW_JSON_BODIES } from "./form-bodies.ts";
import { SECURITY_SCHEMES, securityOf } from "./security-schemes.ts";

export const BROKER_VERSION: string = pkg.version;

/** Operation names (and summaries) a client reads; any other route gets one from its method and path. */
const OPERATIONS: Record<string, [operationId: string, summary: string]> = {
  "GET /.well-known/oauth-authorization-server": ["getServerMetadata", "Authorization server metadata (RFC 8414)"],
  "GET /jwks.json": ["getJwks", "Public keys of access tokens and consent events"],
  "POST /connect/register": ["registerClient", "Register a bank client (RFC 7591)"],
  "GET /connect/register/{client_id}": ["readClient", "Read a client's registration (RFC 7592)"],
  "PUT /connect/register/{client_id}": ["updateClient", "Replace a client's metadata (RFC 7592)"],
  "DELETE /connect/register/{client_id}": ["deleteClient", "Delete a client (RFC 7592)"],
  "POST /par": ["pushAuthorizationRequest", "Push a link request (RFC 9126)"],
  "POST /oauth/token": ["requestToken", "Token endpoint: code, refresh, client credentials"],
  "POST /oauth/introspect": ["introspectToken", "Token introspection (RFC 7662)"],
  "POST /oauth/revoke": ["revokeToken", "Token revocation (RFC 7009)"],
  "GET /links": ["listLinks", "The calling client's links for a PSID"],
  "DELETE /links/{link_id}": ["unlink", "Unlink"],
  "POST /ledger/check": ["checkConsent", "May this service use a scope for a purpose now?"],
};

/** An untagged route's tag, by its path's first segment. */
const TAG_BY_SEGMENT: Record<string, string> = {
  ".well-known": "oauth",
  "jwks.json": "oauth",
  connect: "oauth",
  par: "oauth",
  oauth: "oauth",
  link: "linking",
  links: "links",
  messenger: "links",
  ledger: "ledger",
  events: "events",
  console: "console",
};

/**
 * Endpoints behind a rate limit (BROKER_RATE_LIMITS, plugins/rate-limit-policy.ts): every answer
 * carries RateLimit-Policy and RateLimit, and a 429 also Retry-After.
 */
const RATE_LIMITED = /^(POST \/(par|oauth\/token|oauth\/introspect|oauth\/revoke|events\/poll)|\w+ \/connect\/register(\/|$)|GET \/link$|(GET|POST) \/link\/2fa$)/;

/** Responses that are not JSON, by "METHOD /path" and status. */
const NON_JSON: Record<string, Record<string, string[]>> = {
  "GET /metrics": { 200: ["text/plain"] },
  "GET /ledger/export": { 200: ["application/x-ndjson", "text/csv"] },
  "GET /messenger/webhook/:client_id": { 200: ["text/plain"] },
};

/** `GET /ledger/consents/:id/receipt` → `getLedgerConsentsByIdReceipt`. */
export function deriveOperationId(method: string, url: string): string {
  const words = url
    .split("/")
    .filter(Boolean)
    .map((part) => (part.startsWith(":") ? `by-${part.slice(1)}` : part))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter(Boolean);
  return [method.toLowerCase(), ...words.map((w) => w[0]!.toUpperCase() + w.slice(1))].join("");
}

const OAuthErrorBody = Type.Object(
  {
    error: Type.String({ description: "RFC 6749 §5.2 code, or `rate_limited`; see docs/errors.md." }),
    error_description: Type.Optional(Type.String()),
  },
  { title: "OAuthError" },
);
const ErrorBody = Type.Object(
  {
    error: Type.String({ description: "A stable code; see docs/errors.md." }),
    message: Type.String(),
    request_id: Type.String({ description: "Also in the X-Request-Id header; quote it when asking for help." }),
  },
  { title: "Error" },
);
const PageBody = Type.String({ description: "A readable HTML page saying what happened and what to do next." });

const json = (ref: string) => ({ "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } });
const DRAFT = "draft-ietf-httpapi-ratelimit-headers-11";
/** The rate-limit header fields, shared components: each limited answer references them. */
const HEADERS = {
  "RateLimit-Policy": {
    description: `The limits that applied to this request (${DRAFT}), one list member per limit: per caller address first, then per client, e.g. \`"token-ip";q=3000;w=10, "token-client";q=2000;w=10\` (\`q\` requests per \`w\` seconds). README "Rate limits" gives the defaults; the operator sets them with BROKER_RATE_LIMITS.`,
    schema: { type: "string" },
  },
  RateLimit: {
    description: `Where the caller stands in each limit of RateLimit-Policy (${DRAFT}), in the same order: \`"token-ip";r=2988;t=7, "token-client";r=1990;t=7\` (\`r\` requests left, \`t\` seconds until the window ends).`,
    schema: { type: "string" },
  },
  "Retry-After": { description: "Seconds until the limit's window resets.", schema: { type: "integer", minimum: 1 } },
};
const header = (name: keyof typeof HEADERS) => ({ [name]: { $ref: `#/components/headers/${name}` } });
/** On every answer of a rate-limited endpoint. */
const RATE_LIMIT_STATE = { ...header("RateLimit-Policy"), ...header("RateLimit") };
/** On its 429: the state, and when to retry. */
const RATE_LIMITED_HEADERS = { ...header("Retry-After"), ...RATE_LIMIT_STATE };
const WWW_AUTHENTICATE = { "WWW-Authenticate": { description: "The scheme expected and the error (RFC 6750 §3, RFC 9449 §7.1).", schema: { type: "string" } } };

/** Shared error responses, referenced by every operation; names end in their status. */
const ERROR_RESPONSES = {
  OAuthError400: { description: "The request is malformed or a parameter is invalid (e.g. invalid_request, invalid_grant, invalid_scope, invalid_client_metadata, invalid_dpop_proof, use_dpop_nonce).", content: json("OAuthError") },
  OAuthError401: { description: "Client authentication failed (invalid_client) or a token is not valid (invalid_token).", headers: WWW_AUTHENTICATE, content: json("OAuthError") },
  OAuthError403: { description: "The credential is valid but not allowed here (e.g. insufficient_scope).", content: json("OAuthError") },
  OAuthError404: { description: "No such resource for this client.", content: json("OAuthError") },
  OAuthError429: { description: "Rate limited (error `rate_limited`): wait Retry-After seconds.", headers: RATE_LIMITED_HEADERS, content: json("OAuthError") },
  OAuthError500: { description: "Internal error (`internal_error`); nothing about it is exposed.", content: json("OAuthError") },
  Error400: { description: "Invalid request (`invalid_request`).", content: json("Error") },
  Error401: { description: "Authentication required or failed (`invalid_token`, `invalid_client`, `unauthorized`).", headers: WWW_AUTHENTICATE, content: json("Error") },
  Error403: { description: "Not allowed (`forbidden`, `insufficient_scope`, `invalid_verify_token`).", content: json("Error") },
  Error404: { description: "No such resource for this caller (`not_found`).", content: json("Error") },
  Error415: { description: "The body's content type is not the one documented (`unsupported_media_type`).", content: json("Error") },
  Error429: { description: "Rate limited (`rate_limited`): wait Retry-After seconds.", headers: RATE_LIMITED_HEADERS, content: json("Error") },
  Error500: { description: "Internal error (`internal_error`); nothing about it is exposed.", content: json("Error") },
  Page4XX: { description: "An error page (HTML).", content: { "text/html": { schema: PageBody } } },
  Page429: { description: "A page asking to wait (HTML): `rate_limited`, or on the second-factor pages `second_factor_locked`; wait Retry-After seconds.", headers: RATE_LIMITED_HEADERS, content: { "text/html": { schema: PageBody } } },
  Page5XX: { description: "An error page (HTML).", content: { "text/html": { schema: PageBody } } },
};

interface RouteFacts {
  format: ErrorFormat;
  secured: boolean;
  limited: boolean;
  input: boolean;
  params: boolean;
  body: boolean;
}
const FACTS = "x-lb-route";

/** Per route: operationId, content types, security and the facts its error responses follow from. */
export function describeRoute({ schema, url, route }: { schema: Record<string, unknown>; url: string; route: RouteOptions }) {
  const method = String(Array.isArray(route.method) ? route.method[0] : route.method);
  const key = `${method} ${url}`;
  const named = OPERATIONS[key.replace(/:(\w+)/g, "{$1}")];
  const format: ErrorFormat = route.config?.errorFormat ?? "json";
  const out: Record<string, unknown> = { ...(schema ?? {}) };
  out.operationId ??= named?.[0] ?? deriveOperationId(method, url);
  out.summary ??= named?.[1] ?? `${method} ${url}`;
  out.tags ??= [TAG_BY_SEGMENT[url.split("/")[1] ?? ""] ?? "operations"];

  out.body ??= RAW_JSON_BODIES[key];
  if (out.body) {
    if (FORM_BODIES[key]) out.body = FORM_BODIES[key];
    out.consumes = [bodyContentType(route)];
  }
  const nonJson = NON_JSON[key];
  if (format === "page") out.produces ??= ["text/html"];
  else if (nonJson && out.response) {
    const response = { ...(out.response as Record<string, Record<string, unknown>>) };
    for (const [status, types] of Object.entries(nonJson)) {
      const schemaOf = response[status] ?? { type: "string" };
      response[status] = { description: String(schemaOf.description ?? "OK"), content: Object.fromEntries(types.map((t) => [t, { schema: { type: "string" } }])) };
    }
    out.response = response;
  }

  const security = (out.security as unknown[] | undefined) ?? securityOf(method, url) ?? [];
  out.security = security;
  const facts: RouteFacts = {
    format,
    secured: security.length > 0,
    limited: RATE_LIMITED.test(key),
    input: Boolean(out.body || out.querystring || out.params || url.includes(":")),
    params: Boolean(out.params || url.includes(":")),
    // Only a body the route parses itself is refused with 415 (content-types.ts).
    body: Boolean(route.schema?.body) && bodyContentType(route) !== FORM,
  };
  out[FACTS] = facts;
  return { schema: out, url };
}

/** The error responses an operation can answer, by status, as references to ERROR_RESPONSES. */
function errorResponses(f: RouteFacts): Record<string, string> {
  if (f.format === "page") return { ...(f.limited ? { 429: "Page429" } : {}), "4XX": "Page4XX", "5XX": "Page5XX" };
  const p = f.format === "oauth" ? "OAuthError" : "Error";
  const out: Record<string, string> = {};
  if (f.input || f.secured) out[400] = `${p}400`;
  if (f.secured) out[401] = `${p}401`;
  if (f.secured && f.format === "json") out[403] = `${p}403`;
  if (f.params && f.format === "json") out[404] = `${p}404`;
  if (f.body && f.format === "json") out[415] = `${p}415`;
  if (f.limited) out[429] = `${p}429`;
  out[500] = `${p}500`;
  return out;
}

/** The whole document: shared components, and each operation's error responses. */
function finishDocument({ openapiObject }: { openapiObject: Record<string, unknown> }) {
  const doc = openapiObject as { paths?: Record<string, Record<string, Record<string, unknown>>>; components?: Record<string, Record<string, unknown>> };
  doc.components = {
    ...doc.components,
    schemas: { ...doc.components?.schemas, OAuthError: OAuthErrorBody, Error: ErrorBody },
    headers: HEADERS,
    securitySchemes: SECURITY_SCHEMES,
  };
  const used: Record<string, unknown> = {};
  for (const operations of Object.values(doc.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      const facts = operation[FACTS] as RouteFacts | undefined;
      delete operation[FACTS];
      if (!facts) continue;
      const responses = operation.responses as Record<string, Record<string, unknown>>;
      if (facts.limited) {
        for (const [status, response] of Object.entries(responses)) {
          if (/^[23]/.test(status) && !response.$ref) response.headers = { ...(response.headers as object), ...RATE_LIMIT_STATE };
        }
      }
      // A status the route declares itself keeps its own schema; a page route's 4xx/5xx are pages
      // (but a limited one's 429 is named, for its headers).
      for (const [status, name] of Object.entries(errorResponses(facts))) {
        if (responses[status] || (status !== "429" && responses[`${status[0]}XX`])) continue;
        const shared = ERROR_RESPONSES[name as keyof typeof ERROR_RESPONSES];
        // A refusal of a limited JSON endpoint was counted first (per caller address, in the
        // request's first hook), so it carries the RateLimit fields too: its own variant says so.
        if (facts.limited && facts.format !== "page" && /^4(?!29)/.test(status)) {
          const limitedName = `${name}Limited`;
          responses[status] = { $ref: `#/components/responses/${limitedName}` };
          used[limitedName] = { ...shared, description: `${shared.description} The limits counted before the refusal are in RateLimit-Policy and RateLimit.`, headers: { ...("headers" in shared ? shared.headers : {}), ...RATE_LIMIT_STATE } };
          continue;
        }
        responses[status] = { $ref: `#/components/responses/${name}` };
        used[name] = shared;
      }
    }
  }
  doc.components.responses = used;
  return doc;
}

/** The document and the rule that each route's body has the content type it documents; before any route. */
export async function registerOpenApi(app: FastifyInstance, options: { publicUrl: string; /** Serve the document and UI at /docs (BROKER_DOCS; off in production by default). */ ui?: boolean }) {
  enforceBodyContentTypes(app);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "link-broker",
        version: BROKER_VERSION,
        description:
          "Account-linking OAuth broker for banks: Messenger linking, scoped tokens, consent ledger. Error codes: docs/errors.md; integration guide: docs/banks.md.",
        license: { name: "Apache-2.0", identifier: "Apache-2.0" },
      },
      servers: [{ url: options.publicUrl }],
      // Declared here too: the generator reads them to leave credentials out of the parameters.
      components: { securitySchemes: SECURITY_SCHEMES as never },
      tags: [
        { name: "oauth", description: "Discovery, keys, registration, PAR, tokens" },
        { name: "linking", description: "The Messenger webview pages" },
        { name: "links", description: "Links and the Messenger webhook" },
        { name: "ledger", description: "The consent ledger" },
        { name: "events", description: "Consent events (RFC 8417 Security Event Tokens)" },
        { name: "console", description: "The compliance console" },
        { name: "operations", description: "Health, readiness, metrics" },
      ],
    },
    transform: describeRoute as never,
    transformObject: finishDocument as never,
  });
  // The document is always built (app.swagger(), the client's generated types); /docs only when enabled.
  // Imported only when served: the UI's static files plugin stays out of memory otherwise.
  if (options.ui !== false) await app.register((await import("@fastify/swagger-ui")).default, { routePrefix: "/docs", staticCSP: true, transformStaticCSP: docsCsp });
}
