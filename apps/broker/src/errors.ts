/**
 * One error hierarchy. Every error has a stable string `code` and an HTTP `status`; `expose` is
 * true below 500, and only exposed messages ever reach a response. The error-handler plugin
 * (plugins/error-handler.ts) turns them into the three shapes of DESIGN.md:
 * OAuthError → RFC 6749 JSON, PageError → an HTML page, any other BrokerError →
 * `{ error, message, request_id }`.
 */
export class BrokerError extends Error {
  readonly expose: boolean;
  headers: Record<string, string> = {};

  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = new.target.name;
    this.expose = status < 500;
  }
}

export class BadRequestError extends BrokerError {
  constructor(message: string, code = "invalid_request") {
    super(code, message, 400);
  }
}
export class UnauthorizedError extends BrokerError {
  constructor(message = "Authentication required", code = "unauthorized") {
    super(code, message, 401);
  }
}
export class ForbiddenError extends BrokerError {
  constructor(message = "Not allowed", code = "forbidden") {
    super(code, message, 403);
  }
}
export class NotFoundError extends BrokerError {
  constructor(message = "Not found", code = "not_found") {
    super(code, message, 404);
  }
}
export class TooManyRequestsError extends BrokerError {
  constructor(message = "Too many requests", retryAfterSeconds?: number) {
    super("rate_limited", message, 429);
    if (retryAfterSeconds !== undefined) this.headers["retry-after"] = String(Math.max(1, Math.ceil(retryAfterSeconds)));
  }
}
/** A passing condition (overload, database away): the message is safe to show, Retry-After set. */
export class ServiceUnavailableError extends BrokerError {
  override readonly expose = true;
  constructor(message = "Service unavailable", code = "unavailable", retryAfterSeconds?: number) {
    super(code, message, 503);
    if (retryAfterSeconds !== undefined) this.headers["retry-after"] = String(retryAfterSeconds);
  }
}

/** RFC 6749 §5.2 (and RFC 7591, 9126, 9449) errors: `{ error, error_description }`. */
export class OAuthError extends BrokerError {
  constructor(code: string, description: string, status = 400) {
    super(code, description, status);
  }
}
export const InvalidRequest = (d: string) => new OAuthError("invalid_request", d);
export const InvalidGrant = (d: string) => new OAuthError("invalid_grant", d);
export const InvalidScope = (d: string) => new OAuthError("invalid_scope", d);
export const UnauthorizedClient = (d: string) => new OAuthError("unauthorized_client", d);
export const UnsupportedGrantType = (d: string) => new OAuthError("unsupported_grant_type", d);
export const InvalidClientMetadata = (d: string) => new OAuthError("invalid_client_metadata", d);
export const InvalidDpopProof = (d: string) => new OAuthError("invalid_dpop_proof", d);
export const InvalidToken = (d: string) => {
  const e = new OAuthError("invalid_token", d, 401);
  e.headers["www-authenticate"] = `Bearer error="invalid_token", error_description="${d.replace(/"/g, "'")}"`;
  return e;
};
export const InsufficientScope = (d: string) => {
  const e = new OAuthError("insufficient_scope", d, 403);
  e.headers["www-authenticate"] = `Bearer error="insufficient_scope"`;
  return e;
};
export function InvalidClient(description = "client authentication failed"): OAuthError {
  const e = new OAuthError("invalid_client", description, 401);
  e.headers["www-authenticate"] = `Basic realm="link-broker", error="invalid_client"`;
  return e;
}

/**
 * An error shown to a person in the webview: what happened and what to do next. Once Messenger's
 * redirect_uri is verified, `returnUrl` is that URI with no `authorization_code`: the page offers
 * it as "Return to Messenger" (Messenger reads it as a cancelled link).
 */
export class PageError extends BrokerError {
  returnUrl?: string;

  constructor(
    code: string,
    readonly title: string,
    message: string,
    readonly nextStep: string,
    status = 400,
  ) {
    super(code, message, status);
  }
}
