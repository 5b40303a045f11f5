import type { preValidationHookHandler } from "fastify";
import { InvalidRequest } from "../../errors.ts";

const FORM = /^application\/x-www-form-urlencoded\b/i;

/** OAuth endpoints take application/x-www-form-urlencoded bodies only (RFC 6749 §3.2). */
export const checkFormBody: preValidationHookHandler = (request, _reply, done) => {
  done(FORM.test(request.headers["content-type"] ?? "") ? undefined : InvalidRequest("the body must be application/x-www-form-urlencoded"));
};

/** Responses carrying tokens or token data are never cached (RFC 6749 §5.1). */
export const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" } as const;
