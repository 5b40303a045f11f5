import { type CustomerScope, DEFAULT_DURATION_DAYS, defaultPurposes, isForbiddenPurpose, isPurpose, LedgerError, MAX_DURATION_DAYS, pairsFrom, type ScopePurpose } from "@link-broker/consent-ledger";
import { InvalidRequest } from "../../errors.ts";

/**
 * Purposes of a link request, by the ledger's policy. None given → each scope's own purpose.
 * `advertising`, `marketing` and `profiling` are refused with a description, always.
 */
export function checkPurposes(purpose: unknown, scopes: readonly string[]): string[] {
  if (purpose === undefined || purpose === "") return defaultPurposes(scopes);
  if (typeof purpose !== "string") throw InvalidRequest("purpose must be a space-separated string");
  const purposes = [...new Set(purpose.split(" ").filter(Boolean))];
  for (const p of purposes) {
    if (isForbiddenPurpose(p)) throw InvalidRequest(`purpose ${p} is refused: the broker never allows advertising, marketing or profiling`);
    if (!isPurpose(p)) throw InvalidRequest(`unknown purpose ${p}`);
  }
  return purposes;
}

/**
 * The (scope, purpose) pairs the request asks for (the ledger's rule: each scope with the named
 * purposes it may serve). A scope no named purpose fits, or a purpose no scope serves, is a bad
 * request here, before anything is shown to the customer.
 */
export function checkPairs(scopes: readonly string[], purposes: readonly string[]): ScopePurpose[] {
  try {
    return pairsFrom(scopes as CustomerScope[], purposes);
  } catch (err) {
    if (err instanceof LedgerError) throw InvalidRequest(err.message);
    throw err;
  }
}

/** consent_duration_days: an integer from 1 to the ledger's maximum, default the ledger's default. */
export function checkConsentDuration(value: unknown): number {
  if (value === undefined || value === "") return DEFAULT_DURATION_DAYS;
  const n = typeof value === "number" ? value : /^\d{1,3}$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > MAX_DURATION_DAYS) throw InvalidRequest(`consent_duration_days must be an integer from 1 to ${MAX_DURATION_DAYS}`);
  return n;
}
