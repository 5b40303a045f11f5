import { CUSTOMER_SCOPES, isForbiddenPurpose, isScope } from "@link-broker/consent-ledger";

/**
 * The broker's scopes: the customer ones (with purposes, defaults, durations and the forbidden
 * purposes) are the consent ledger's policy (packages/consent-ledger/src/policy.ts); the service
 * scopes are the broker's own.
 */
export { CUSTOMER_SCOPES, isForbiddenPurpose };
export const SERVICE_SCOPES = ["ledger:check", "ledger:audit"] as const;
export const ALL_SCOPES: readonly string[] = [...CUSTOMER_SCOPES, ...SERVICE_SCOPES];

export const isCustomerScope = isScope;
export const isServiceScope = (s: string) => (SERVICE_SCOPES as readonly string[]).includes(s);

/** Customer scopes come through a link; service scopes through client_credentials. */
export type ScopeKind = "customer" | "service";
export const SCOPE_KINDS: Record<ScopeKind, { is: (scope: string) => boolean; names: string }> = {
  customer: { is: isCustomerScope, names: "customer scopes" },
  service: { is: isServiceScope, names: "the service scopes ledger:check and ledger:audit" },
};

/** Space-delimited scope string → unique list (RFC 6749 §3.3). */
export function parseScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? "").split(" ").filter(Boolean))];
}

/** Lifetimes, in seconds. */
export const ACCESS_TOKEN_TTL = 600;
export const REFRESH_TOKEN_TTL = 30 * 24 * 3600;
export const CODE_TTL = 60;
export const PAR_TTL = 90;
