import { hashToken, randomToken } from "../../../crypto/hash.ts";
import { InvalidDpopProof, InvalidGrant, InvalidRequest, UnauthorizedClient } from "../../../errors.ts";
import { checkNarrowedScope } from "../../checks/check-scope.ts";
import { tokenResponse, type GrantContext, type TokenResponse, type TokenServiceDeps } from "../token-service.ts";

/**
 * refresh_token (RFC 6749 §6). DPoP-bound refresh tokens are sender-constrained and not rotated
 * (FAPI 2.0). Others rotate: a second use of a rotated token is reuse and revokes the whole grant.
 * Each refresh asks the consent ledger again; a consent no longer active ends the grant. A
 * consent's refresh token lives exactly as long as the consent (its current expiry, a renewal
 * included), not a fixed term; a grant without consent keeps its own expiry.
 */
export function refreshTokenGrant(deps: TokenServiceDeps) {
  /** Whether the grant's tokens are bounded by a consent (then an older stored expiry does not end them). */
  const consentBound = async (grantId: string) => !!(await deps.repo.findGrant(grantId))?.consentId;
  const { repo, accessTokens, clock, consentCheck, consentExpiry } = deps;
  return async ({ client, body, jkt }: GrantContext): Promise<TokenResponse> => {
    if (!client.grantTypes.includes("refresh_token")) throw UnauthorizedClient("this client is not registered for refresh_token");
    if (typeof body.refresh_token !== "string" || !body.refresh_token) throw InvalidRequest("refresh_token is required");
    const tokenHash = hashToken(body.refresh_token);
    const rt = await repo.findRefresh(tokenHash);
    const now = clock.now();
    if (!rt || rt.clientId !== client.id) throw InvalidGrant("refresh token is invalid");
    if (rt.revokedAt) throw InvalidGrant("refresh token was revoked");
    // Without a consent the token's own expiry decides here; with one, the consent does (below).
    if (rt.expiresAt <= now && !(await consentBound(rt.grantId))) throw InvalidGrant("refresh token has expired");
    if (rt.dpopJkt) {
      if (!jkt) throw InvalidDpopProof("this refresh token is DPoP-bound: a DPoP proof is required");
      if (jkt !== rt.dpopJkt) throw InvalidDpopProof("DPoP proof key does not match the refresh token");
    }
    if (rt.rotatedAt) {
      await repo.revokeGrant(rt.grantId, "refresh_token_reused", now);
      throw InvalidGrant("refresh token was already used; the grant is revoked");
    }
    const grant = await repo.findGrant(rt.grantId);
    if (!grant || grant.revokedAt) throw InvalidGrant("grant was revoked");
    if (!(await consentCheck(grant))) {
      await repo.revokeGrant(grant.id, "consent_inactive", now);
      throw InvalidGrant("consent is no longer active");
    }
    const until = grant.consentId ? await consentExpiry(grant.consentId) : rt.expiresAt;
    if (!until || until <= now) {
      if (grant.consentId) await repo.revokeGrant(grant.id, "consent_inactive", now);
      throw InvalidGrant(grant.consentId ? "consent is no longer active" : "refresh token has expired");
    }
    const scopes = checkNarrowedScope(body.scope, grant.scopes);
    const rotate = !rt.dpopJkt;
    if (rotate && !(await repo.markRefreshRotated(tokenHash, now))) {
      await repo.revokeGrant(grant.id, "refresh_token_reused", now);
      throw InvalidGrant("refresh token was already used; the grant is revoked");
    }
    // A DPoP-bound grant keeps its key; a bearer grant may start using DPoP for access tokens.
    const boundJkt = rt.dpopJkt ?? jkt;
    const { token, claims } = await accessTokens.issue({ clientId: client.id, subject: grant.subject ?? client.id, scopes, linkId: grant.linkId, consentId: grant.consentId, jkt: boundJkt });
    const access = { jti: claims.jti, grantId: grant.id, clientId: client.id, expiresAt: new Date(claims.exp * 1000) };
    if (!rotate) {
      // The same token, now valid as long as the consent is (which a renewal may have extended).
      await repo.saveTokens(access);
      if (until.getTime() !== rt.expiresAt.getTime()) await repo.setRefreshExpiry(tokenHash, until);
      return tokenResponse(token, claims.exp, claims.iat, scopes, boundJkt);
    }
    const next = randomToken();
    await repo.saveTokens(access, { tokenHash: hashToken(next), grantId: grant.id, clientId: client.id, dpopJkt: null, expiresAt: until });
    return tokenResponse(token, claims.exp, claims.iat, scopes, boundJkt, next);
  };
}
