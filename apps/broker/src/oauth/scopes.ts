import { CUSTOMER_SCOPES, DEFAULT_PURPOSE as LEDGER_DEFAULT_PURPOSE, FORBIDDEN_PURPOSES, namesForbiddenPurpose, PURPOSES } from "@link-broker/consent-ledger";

/** Scopes and purposes of DESIGN.md: the customer ones are the consent ledger's policy. */
export { CUSTOMER_SCOPES, FORBIDDEN_PURPOSES, PURPOSES };
export const SERVICE_SCOPES = ["ledger:check", "ledger:audit"] as const;
export const ALL_SCOPES: readonly string[] = [...CUSTOMER_SCOPES, ...SERVICE_SCOPES];
export const DEFAULT_PURPOSE: Record<string, string> = LEDGER_DEFAULT_PURPOSE;

export const isCustomerScope = (s: string) => (CUSTOMER_SCOPES as readonly string[]).includes(s);
export const isServiceScope = (s: string) => (SERVICE_SCOPES as readonly string[]).includes(s);
/** The ledger's rule, with the ledger's normalisation: one answer for scopes, purposes and any field. */
export const isForbiddenPurpose = namesForbiddenPurpose;

/** Space-delimited scope string → unique list (RFC 6749 §3.3). */
export function parseScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? "").split(" ").filter(Boolean))];
}

/** Lifetimes, in seconds. */
export const ACCESS_TOKEN_TTL = 600;
export const REFRESH_TOKEN_TTL = 30 * 24 * 3600;
export const CODE_TTL = 60;
export const PAR_TTL = 90;
