import type { FastifyRequest, FastifySchemaCompiler } from "fastify";
import { InvalidRequest, OAuthError } from "../../errors.ts";

const FORM = /^application\/x-www-form-urlencoded\b/i;

/**
 * OAuth endpoints take application/x-www-form-urlencoded bodies only (RFC 6749 §3.2). Checked
 * from the headers, before the body is read.
 */
export function formContentTypeError(request: FastifyRequest): OAuthError | undefined {
  return FORM.test(request.headers["content-type"] ?? "") ? undefined : InvalidRequest("the body must be application/x-www-form-urlencoded");
}

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/** RFC 7591 §3.1: registration bodies are JSON; anything else is 415 before the body is read. */
export function jsonContentTypeError(request: FastifyRequest): OAuthError | undefined {
  return JSON_TYPE.test(request.headers["content-type"] ?? "") ? undefined : new OAuthError("invalid_request", "the body must be application/json", 415);
}

/** Responses carrying tokens or token data are never cached (RFC 6749 §5.1). */
export const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;

/** The limits `FormBody` (oauth-schemas.ts) documents. */
export const FORM_LIMITS = { maxParams: 30, maxName: 100, maxValue: 4096 } as const;

/** A parameter's name for an error description, which RFC 6749 §5.2 keeps to printable ASCII. */
const named = (name: string) => (/^[A-Za-z0-9_.:-]{1,40}$/.test(name) ? name : "a parameter");

/** Why a parsed form body breaks FormBody, or undefined when it keeps to it. */
export function formBodyError(body: unknown): OAuthError | undefined {
  if (body === null || typeof body !== "object") return InvalidRequest("the body must be a form");
  let n = 0;
  for (const name in body) {
    if (!Object.hasOwn(body, name)) continue;
    if (++n > FORM_LIMITS.maxParams) return InvalidRequest(`the body must not have more than ${FORM_LIMITS.maxParams} parameters`);
    if (name.length > FORM_LIMITS.maxName) return InvalidRequest(`a parameter name is longer than ${FORM_LIMITS.maxName} characters`);
    const value = (body as Record<string, unknown>)[name];
    // A repeated parameter arrives as an array (RFC 6749 §3.1: no parameter twice).
    if (typeof value !== "string") return InvalidRequest(`${named(name)} must be sent once, as a string`);
    if (value.length > FORM_LIMITS.maxValue) return InvalidRequest(`${named(name)} must not be longer than ${FORM_LIMITS.maxValue} characters`);
  }
  return undefined;
}

/**
 * Validates form bodies against FormBody with one loop. The schema stays on the routes for the
 * OpenAPI document; ajv's generic code for a record schema cost each token and introspection
 * request about a microsecond, a few percent of the whole request.
 */
export const formBodyValidator: FastifySchemaCompiler<unknown> = () => (body) => {
  const error = formBodyError(body);
  return error ? { error } : true;
};
