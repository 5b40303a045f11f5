import { createHash } from "node:crypto";
import { constantEquals } from "../../crypto/constant-equals.ts";
import { InvalidGrant, InvalidRequest } from "../../errors.ts";

const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

/** A code challenge request (PAR, /link): S256 only (RFC 7636, FAPI 2.0). */
export function checkCodeChallenge(challenge: unknown, method: unknown): string {
  if (method !== "S256") throw InvalidRequest("code_challenge_method must be S256");
  if (typeof challenge !== "string" || !/^[A-Za-z0-9_-]{43}$/.test(challenge)) throw InvalidRequest("code_challenge must be a base64url SHA-256 (43 characters)");
  return challenge;
}

/** At the token endpoint: BASE64URL(SHA256(verifier)) must equal the stored challenge. */
export function checkPkce(verifier: unknown, challenge: string): void {
  if (verifier === undefined || verifier === "") throw InvalidGrant("code_verifier is required");
  if (typeof verifier !== "string" || !PKCE_VALUE.test(verifier)) throw InvalidGrant("code_verifier is malformed");
  const computed = createHash("sha256").update(verifier).digest("base64url");
  if (!constantEquals(computed, challenge)) throw InvalidGrant("PKCE verification failed");
}
