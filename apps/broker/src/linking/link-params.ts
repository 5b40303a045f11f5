import { checkUrl } from "../config.ts";
import type { PushedRequest } from "./linking-deps.ts";

/** Customer scopes a link may carry, in the customer's words (DESIGN.md "Scopes"). */
export const CUSTOMER_SCOPES: Record<string, string> = {
  "balance:read": "See your account balances",
  "transactions:read": "See your recent transactions",
  "alerts:fraud": "Send you fraud alerts",
  "support:chat": "Help you in the support chat",
};

export const PURPOSES: Record<string, string> = {
  account_servicing: "Servicing your account",
  fraud_alerts: "Warning you about possible fraud",
  customer_support: "Answering your support questions",
  transaction_notifications: "Telling you about transactions",
};

export const FORBIDDEN_PURPOSES = new Set(["advertising", "marketing", "profiling"]);

const DEFAULT_PURPOSE: Record<string, string> = {
  "balance:read": "account_servicing",
  "transactions:read": "account_servicing",
  "alerts:fraud": "fraud_alerts",
  "support:chat": "customer_support",
};

export const DEFAULT_CONSENT_DAYS = 90;
export const MAX_CONSENT_DAYS = 365;

export class LinkParamError extends Error {}

const split = (value: string | undefined) => (value ?? "").split(" ").map((s) => s.trim()).filter(Boolean);

/**
 * The authorization parameters of a client that does not require PAR, checked as the PAR
 * endpoint checks them: known customer scopes the client registered, S256 only, known purposes.
 */
export function parsePlainRequest(
  query: { scope?: string; code_challenge?: string; code_challenge_method?: string; purpose?: string; consent_duration_days?: string },
  clientScopes: readonly string[],
): PushedRequest {
  const scopes = [...new Set(split(query.scope))];
  if (scopes.length === 0) throw new LinkParamError("scope is missing");
  for (const scope of scopes) {
    if (!(scope in CUSTOMER_SCOPES)) throw new LinkParamError(`scope ${scope.slice(0, 40)} is not a customer scope`);
    if (!clientScopes.includes(scope)) throw new LinkParamError(`scope ${scope} is not registered for this client`);
  }
  if (query.code_challenge_method !== "S256") throw new LinkParamError("code_challenge_method must be S256");
  if (!query.code_challenge || !/^[A-Za-z0-9_-]{43}$/.test(query.code_challenge)) throw new LinkParamError("code_challenge must be a base64url SHA-256 (43 characters)");

  let purposes = [...new Set(split(query.purpose))];
  for (const purpose of purposes) {
    if (FORBIDDEN_PURPOSES.has(purpose)) throw new LinkParamError(`purpose ${purpose} is never allowed`);
    if (!(purpose in PURPOSES)) throw new LinkParamError(`purpose ${purpose.slice(0, 40)} is unknown`);
  }
  if (purposes.length === 0) purposes = [...new Set(scopes.map((s) => DEFAULT_PURPOSE[s]!))];

  let consentDurationDays = DEFAULT_CONSENT_DAYS;
  if (query.consent_duration_days !== undefined) {
    if (!/^\d{1,3}$/.test(query.consent_duration_days)) throw new LinkParamError("consent_duration_days must be a whole number of days");
    consentDurationDays = Number(query.consent_duration_days);
    if (consentDurationDays < 1 || consentDurationDays > MAX_CONSENT_DAYS) throw new LinkParamError(`consent_duration_days must be 1 to ${MAX_CONSENT_DAYS}`);
  }
  return { scopes, purposes, codeChallenge: query.code_challenge, codeChallengeMethod: "S256", consentDurationDays };
}

/**
 * Whether Messenger's redirect_uri starts with an allowlisted prefix, compared as parsed URLs:
 * same origin, and a path under the prefix's path (segment-wise, so `/account_linking` does not
 * admit `/account_linking_evil`). No credentials, no fragment.
 */
export function checkRedirectUri(raw: string | undefined, allowlist: readonly string[], production: boolean): URL | undefined {
  if (!raw || raw.length > 2048) return undefined;
  const url = checkUrl(raw, production);
  if (typeof url === "string") return undefined;
  if (url.username || url.password || url.hash) return undefined;
  for (const entry of allowlist) {
    let prefix: URL;
    try {
      prefix = new URL(entry);
    } catch {
      continue;
    }
    if (prefix.origin !== url.origin) continue;
    const base = prefix.pathname.replace(/\/$/, "");
    if (url.pathname === base || url.pathname.startsWith(`${base}/`) || base === "") return url;
  }
  return undefined;
}

/** The redirect back to Messenger: `authorization_code` appended with the URL API when given. */
export function messengerReturnUrl(redirectUri: string, authorizationCode?: string): string {
  const url = new URL(redirectUri);
  url.searchParams.delete("authorization_code");
  if (authorizationCode) url.searchParams.append("authorization_code", authorizationCode);
  return url.href;
}
