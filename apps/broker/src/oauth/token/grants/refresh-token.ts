import { randomUUID } from "node:crypto";
import { hashToken, randomToken } from "../../../crypto/hash.ts";
import { InvalidDpopProof, InvalidGrant, InvalidRequest, UnauthorizedClient } from "../../../errors.ts";
import { checkNarrowedScope } from "../../checks/check-scope.ts";
import { ACCESS_TOKEN_TTL } from "../../scopes.ts";
import { tokenResponse, type GrantContext, type TokenResponse, type TokenServiceDeps } from "../token-service.ts";
import type { ConsentRow, GrantRow, RefreshWithGrant } from "../tokens-repo.ts";

/**
 * refresh_token (RFC 6749 §6). DPoP-bound refresh tokens are sender-constrained and not rotated
 * (FAPI 2.0). Others rotate: a second use of a rotated token is reuse and revokes the whole grant.
 * Each refresh asks the consent ledger again; a consent no longer active ends the grant. A
 * consent's refresh token lives exactly as long as the consent (its current expiry, a renewal
 * included), not a fixed term; a grant without consent keeps its own expiry.
 */
export function refreshTokenGrant(deps: TokenServiceDeps) {
  const { repo, accessTokens, clock, consentUntil } = deps;

  /**
   * Signs the access token whose row the one-statement rotation wrote, at the grant's full scope
   * (a bearer grant may start using DPoP here, as below). The statement judged the consent by the
   * ledger's rule; the rule itself has the last word.
   */
  async function issueRotated({ client, jkt }: GrantContext, grant: GrantRow, consent: ConsentRow | null, id: { jti: string; iat: number }, next: string): Promise<TokenResponse> {
    if (grant.consentId && !consentUntil(consent)) {
      await repo.revokeGrant(grant.id, "consent_inactive", clock.now());
      throw InvalidGrant("consent is no longer active");
    }
    const { token, claims } = await accessTokens.issue({ clientId: client.id, subject: grant.subject ?? client.id, scopes: grant.scopes, linkId: grant.linkId, consentId: grant.consentId, jkt, ...id });
    return tokenResponse(token, claims.exp, claims.iat, grant.scopes, jkt, next);
  }
  return async (context: GrantContext): Promise<TokenResponse> => {
    const { client, body, jkt } = context;
    if (!client.grantTypes.includes("refresh_token")) throw UnauthorizedClient("this client is not registered for refresh_token");
    if (typeof body.refresh_token !== "string" || !body.refresh_token) throw InvalidRequest("refresh_token is required");
    const tokenHash = hashToken(body.refresh_token);
    const now = clock.now();
    let found: RefreshWithGrant | null | undefined;
    if (body.scope === undefined || body.scope === "") {
      // The common case, a bearer token's first use at the full scope, in one round trip: the
      // statement rotates only what the checks below would let rotate, and reads what they need.
      const jti = randomUUID();
      const iat = Math.floor(now.getTime() / 1000);
      const next = randomToken();
      const first = await repo.rotateFirstUse(tokenHash, now, client.id, { jti, expiresAt: new Date((iat + ACCESS_TOKEN_TTL) * 1000) }, hashToken(next));
      if (first?.rotated && first.grant) return issueRotated(context, first.grant, first.consent, { jti, iat }, next);
      found = first; // not rotated: the checks below say why (or rotate it, if it changed meanwhile)
    }
    if (found === undefined) found = await repo.findRefreshWithGrant(tokenHash);
    if (!found || found.refresh.clientId !== client.id) throw InvalidGrant("refresh token is invalid");
    const { refresh: rt, grant, consent } = found;
    if (rt.revokedAt) throw InvalidGrant("refresh token was revoked");
    // Without a consent the token's own expiry decides here; with one, the consent does (below).
    if (rt.expiresAt <= now && !grant?.consentId) throw InvalidGrant("refresh token has expired");
    if (rt.dpopJkt) {
      if (!jkt) throw InvalidDpopProof("this refresh token is DPoP-bound: a DPoP proof is required");
      if (jkt !== rt.dpopJkt) throw InvalidDpopProof("DPoP proof key does not match the refresh token");
    }
    if (rt.rotatedAt) {
      await repo.revokeGrant(rt.grantId, "refresh_token_reused", now);
      throw InvalidGrant("refresh token was already used; the grant is revoked");
    }
    if (!grant || grant.revokedAt) throw InvalidGrant("grant was revoked");
    // The consent is asked again at every refresh: its row, read with the token, answers by the
    // ledger's rule both whether it is still active and until when (undefined: ended, withdrawn
    // or unknown).
    const until = grant.consentId ? consentUntil(consent) : rt.expiresAt;
    if (!until || until <= now) {
      if (grant.consentId) await repo.revokeGrant(grant.id, "consent_inactive", now);
      throw InvalidGrant(grant.consentId ? "consent is no longer active" : "refresh token has expired");
    }
    const scopes = checkNarrowedScope(body.scope, grant.scopes);
    // A DPoP-bound grant keeps its key; a bearer grant may start using DPoP for access tokens.
    const boundJkt = rt.dpopJkt ?? jkt;
    const { token, claims } = await accessTokens.issue({ clientId: client.id, subject: grant.subject ?? client.id, scopes, linkId: grant.linkId, consentId: grant.consentId, jkt: boundJkt });
    const access = { jti: claims.jti, grantId: grant.id, clientId: client.id, expiresAt: new Date(claims.exp * 1000) };
    if (rt.dpopJkt) {
      // Not rotated: the same token, now valid as long as the consent is (which a renewal may have extended).
      await repo.saveAccessToken(access);
      if (until.getTime() !== rt.expiresAt.getTime()) await repo.setRefreshExpiry(tokenHash, until);
      return tokenResponse(token, claims.exp, claims.iat, scopes, boundJkt);
    }
    const next = randomToken();
    // Nothing is written unless this use is the first (a concurrent or replayed use is reuse).
    if (!(await repo.rotateRefresh(tokenHash, now, access, { tokenHash: hashToken(next), grantId: grant.id, clientId: client.id, dpopJkt: null, expiresAt: until }))) {
      await repo.revokeGrant(grant.id, "refresh_token_reused", now);
      throw InvalidGrant("refresh token was already used; the grant is revoked");
    }
    return tokenResponse(token, claims.exp, claims.iat, scopes, boundJkt, next);
  };
}
