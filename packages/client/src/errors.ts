/** The broker answered with an error: `code` is the stable code of docs/errors.md. */
export class BrokerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly description: string,
    /** Seconds to wait, from Retry-After, on a 429. */
    readonly retryAfter?: number,
  ) {
    super(`broker answered ${status} ${code}${description ? `: ${description}` : ""}`);
    this.name = "BrokerError";
  }
}

/** The broker could not be reached (network error or timeout); nothing was answered. */
export class BrokerUnreachableError extends Error {
  constructor(cause: unknown) {
    super("The broker is not reachable", { cause });
    this.name = "BrokerUnreachableError";
  }
}

/** A BrokerError from an error response of either shape (OAuth or `{ error, message }`), as openapi-fetch parsed it. */
export function errorFromResponse(res: Response, parsed: unknown): BrokerError {
  const body = (parsed && typeof parsed === "object" ? parsed : {}) as Record<string, unknown>;
  const retry = Number(res.headers.get("retry-after"));
  return new BrokerError(
    res.status,
    typeof body.error === "string" ? body.error : `http_${res.status}`,
    String(body.error_description ?? body.message ?? ""),
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
  );
}

/** Turns openid-client's and fetch's errors into BrokerError / BrokerUnreachableError. */
export function toBrokerError(err: unknown): Error {
  if (err instanceof BrokerError || err instanceof BrokerUnreachableError) return err;
  const e = err as { name?: string; status?: number; error?: string; error_description?: string; code?: string; cause?: unknown; response?: Response };
  if (e?.name === "WWWAuthenticateChallengeError" && typeof e.status === "number") {
    const challenge = (e.cause as { parameters?: Record<string, string> }[] | undefined)?.[0]?.parameters;
    return new BrokerError(e.status, challenge?.error ?? "invalid_token", challenge?.error_description ?? "");
  }
  if (typeof e?.status === "number" && typeof e.error === "string") {
    const retry = Number(e.response?.headers.get("retry-after"));
    return new BrokerError(e.status, e.error, e.error_description ?? "", Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  if (e?.name === "TypeError" || e?.name === "TimeoutError" || e?.name === "AbortError" || e?.code === "OAUTH_TIMEOUT") return new BrokerUnreachableError(err);
  if (e?.code === "OAUTH_RESPONSE_IS_NOT_CONFORM" && e.cause instanceof Response) return new BrokerError(e.cause.status, `http_${e.cause.status}`, "");
  return err instanceof Error ? err : new Error(String(err));
}
