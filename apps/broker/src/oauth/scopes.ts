/** Scopes and purposes of DESIGN.md. */
export const CUSTOMER_SCOPES = ["balance:read", "transactions:read", "alerts:fraud", "support:chat"] as const;
export const SERVICE_SCOPES = ["ledger:check", "ledger:audit"] as const;
export const ALL_SCOPES: readonly string[] = [...CUSTOMER_SCOPES, ...SERVICE_SCOPES];
export const PURPOSES = ["account_servicing", "fraud_alerts", "customer_support", "transaction_notifications"] as const;
/** Refused everywhere, always. */
export const FORBIDDEN_PURPOSES = ["advertising", "marketing", "profiling"] as const;

export const DEFAULT_PURPOSE: Record<string, string> = {
  "balance:read": "account_servicing",
  "transactions:read": "account_servicing",
  "alerts:fraud": "fraud_alerts",
  "support:chat": "customer_support",
};

export const isCustomerScope = (s: string) => (CUSTOMER_SCOPES as readonly string[]).includes(s);
export const isServiceScope = (s: string) => (SERVICE_SCOPES as readonly string[]).includes(s);
export const isForbiddenPurpose = (s: string) => (FORBIDDEN_PURPOSES as readonly string[]).includes(s.toLowerCase());

/** Space-delimited scope string → unique list (RFC 6749 §3.3). */
export function parseScope(scope: string | undefined): string[] {
  return [...new Set((scope ?? "").split(" ").filter(Boolean))];
}

/** Lifetimes, in seconds. */
export const ACCESS_TOKEN_TTL = 600;
export const REFRESH_TOKEN_TTL = 30 * 24 * 3600;
export const CODE_TTL = 60;
export const PAR_TTL = 90;
