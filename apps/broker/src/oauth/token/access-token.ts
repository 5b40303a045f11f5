import { randomUUID } from "node:crypto";
import type { Clock } from "../../clock.ts";
import type { KeyStore } from "../keys/key-store.ts";
import { ACCESS_TOKEN_TTL } from "../scopes.ts";

export interface AccessTokenClaims {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  link_id?: string;
  consent_id?: string;
  cnf?: { jkt: string };
}

export interface AccessTokenInput {
  clientId: string;
  subject: string;
  scopes: readonly string[];
  linkId?: string | null;
  consentId?: string | null;
  jkt?: string | null;
  /** The token's id and issue time when its row is written before it is signed (the refresh grant's one statement). */
  jti?: string;
  iat?: number;
}

/**
 * RFC 9068 JWT access tokens (`typ: at+jwt`, ES256). The broker is both issuer and audience:
 * its own APIs (`/ledger/*`, `/links`) are the resource servers.
 */
export function createAccessTokens(deps: { keyStore: Pick<KeyStore, "signer" | "verify">; issuer: string; clock: Clock }) {
  const { keyStore, issuer, clock } = deps;
  // Tokens whose signature already verified (introspection and APIs see the same token often).
  const verified = new Map<string, AccessTokenClaims>();
  return {
    async issue(input: AccessTokenInput): Promise<{ token: string; claims: AccessTokenClaims }> {
      const iat = input.iat ?? Math.floor(clock.now().getTime() / 1000);
      const claims: AccessTokenClaims = {
        iss: issuer,
        sub: input.subject,
        aud: issuer,
        client_id: input.clientId,
        scope: input.scopes.join(" "),
        jti: input.jti ?? randomUUID(),
        iat,
        exp: iat + ACCESS_TOKEN_TTL,
        ...(input.linkId ? { link_id: input.linkId } : {}),
        ...(input.consentId ? { consent_id: input.consentId } : {}),
        ...(input.jkt ? { cnf: { jkt: input.jkt } } : {}),
      };
      const token = await keyStore.signer.sign(claims as unknown as Record<string, unknown>, { typ: "at+jwt" });
      return { token, claims };
    },
    /**
     * Signature, typ, issuer, audience and expiry; undefined for anything else. Revocation is the
     * caller's. A token already verified here is answered without a promise (the hot path); the
     * answer is never a thrown error.
     */
    verify(token: string): AccessTokenClaims | undefined | Promise<AccessTokenClaims | undefined> {
      if (typeof token !== "string" || token.length > 4096) return undefined;
      const now = Math.floor(clock.now().getTime() / 1000);
      const cached = verified.get(token);
      if (cached) return cached.exp > now ? cached : undefined;
      return verifyNew(token, now);
    },
  };

  async function verifyNew(token: string, now: number): Promise<AccessTokenClaims | undefined> {
      const result = await keyStore.verify(token);
      if (result?.header.typ !== "at+jwt") return undefined;
      const c = result.payload as unknown as AccessTokenClaims;
      if (c.iss !== issuer || c.aud !== issuer || typeof c.exp !== "number" || c.exp <= now || typeof c.jti !== "string" || typeof c.client_id !== "string") return undefined;
      if (verified.size >= 10_000) verified.clear();
      verified.set(token, c);
      return c;
  }
}
export type AccessTokens = ReturnType<typeof createAccessTokens>;
