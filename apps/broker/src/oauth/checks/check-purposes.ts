import { InvalidRequest } from "../../errors.ts";
import { DEFAULT_PURPOSE, isForbiddenPurpose, PURPOSES } from "../scopes.ts";

/**
 * Purposes of a link request. None given → each scope's own purpose. `advertising`, `marketing`
 * and `profiling` are refused with a description, always.
 */
export function checkPurposes(purpose: unknown, scopes: readonly string[]): string[] {
  if (purpose === undefined || purpose === "") return [...new Set(scopes.map((s) => DEFAULT_PURPOSE[s]!).filter(Boolean))];
  if (typeof purpose !== "string") throw InvalidRequest("purpose must be a space-separated string");
  const purposes = [...new Set(purpose.split(" ").filter(Boolean))];
  for (const p of purposes) {
    if (isForbiddenPurpose(p)) throw InvalidRequest(`purpose ${p} is refused: the broker never allows advertising, marketing or profiling`);
    if (!(PURPOSES as readonly string[]).includes(p)) throw InvalidRequest(`unknown purpose ${p}`);
  }
  return purposes;
}

/** consent_duration_days: an integer from 1 to 365, default 90. */
export function checkConsentDuration(value: unknown): number {
  if (value === undefined || value === "") return 90;
  const n = typeof value === "number" ? value : /^\d{1,3}$/.test(String(value)) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 1 || n > 365) throw InvalidRequest("consent_duration_days must be an integer from 1 to 365");
  return n;
}
