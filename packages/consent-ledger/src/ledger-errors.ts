/**
 * Typed ledger errors. `code` is stable (callers and the HTTP layer map on it); `status` is the
 * HTTP status the broker answers with. Bad input is always rejected before anything is written.
 */
export type LedgerErrorCode =
  | "invalid_scope"
  | "invalid_purpose"
  | "purpose_forbidden"
  | "invalid_expiry"
  | "invalid_subject"
  | "invalid_request"
  | "unknown_consent"
  | "not_active";

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = "LedgerError";
  }
}

export const invalidScope = (scope: string) => new LedgerError("invalid_scope", `Unknown scope: ${scope}`);
export const invalidPurpose = (purpose: string) => new LedgerError("invalid_purpose", `Unknown purpose: ${purpose}`);
/** Named purposes and scopes that do not pair (a scope no purpose fits, a purpose no scope serves). */
export const unpairedPurpose = (message: string) => new LedgerError("invalid_purpose", message);
export const purposeForbidden = (purpose: string) =>
  new LedgerError("purpose_forbidden", `Purpose ${purpose} is never allowed (no advertising, marketing or profiling)`);
export const invalidExpiry = (message: string) => new LedgerError("invalid_expiry", message);
export const invalidSubject = (message = "subject must be a non-empty string") => new LedgerError("invalid_subject", message);
export const invalidRequest = (message: string) => new LedgerError("invalid_request", message);
export const unknownConsent = (id: string) => new LedgerError("unknown_consent", `No consent ${id}`, 404);
export const notActive = (id: string, state: string) => new LedgerError("not_active", `Consent ${id} is ${state}, not active`, 409);
