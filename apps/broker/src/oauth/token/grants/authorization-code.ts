import { randomUUID } from "node:crypto";
import { hashToken, randomToken } from "../../../crypto/hash.ts";
import { InvalidGrant, InvalidRequest, UnauthorizedClient } from "../../../errors.ts";
import { checkPkce } from "../../checks/check-pkce.ts";
import { REFRESH_TOKEN_TTL } from "../../scopes.ts";
import { tokenResponse, type GrantContext, type TokenResponse, type TokenServiceDeps } from "../token-service.ts";

/**
 * authorization_code (RFC 6749 §4.1.3 + RFC 7636). Checks, in order: the client may use the
 * grant, the code exists, was not used (a replay revokes every token it issued), is this
 * client's, has not expired, and the PKCE verifier matches; then the code is consumed and the
 * grant with its tokens written in one transaction, its consent must still be active, and its
 * link must still be active and hold that consent.
 */
export function authorizationCodeGrant(deps: Pick<TokenServiceDeps, "repo" | "accessTokens" | "clock" | "consentUntil">) {
  const { repo, accessTokens, clock, consentUntil } = deps;
  return async ({ client, body, jkt }: GrantContext): Promise<TokenResponse> => {
    if (!client.grantTypes.includes("authorization_code")) throw UnauthorizedClient("this client is not registered for authorization_code");
    if (typeof body.code !== "string" || !body.code) throw InvalidRequest("code is required");
    const codeHash = hashToken(body.code);
    // The code with its consent's status, in one query.
    const found = await repo.findCodeWithConsent(codeHash);
    const now = clock.now();
    if (!found) throw InvalidGrant("authorization code is invalid");
    const { code, consent } = found;
    if (code.consumedAt) {
      if (code.grantId && code.clientId === client.id) await repo.revokeGrant(code.grantId, "code_replayed", now);
      throw InvalidGrant("authorization code was already used");
    }
    if (code.clientId !== client.id) throw InvalidGrant("authorization code was issued to another client");
    if (code.expiresAt <= now) throw InvalidGrant("authorization code has expired");
    checkPkce(body.code_verifier, code.codeChallenge);

    const grantId = randomUUID();
    const { token, claims } = await accessTokens.issue({ clientId: client.id, subject: code.subject, scopes: code.scopes, linkId: code.linkId, consentId: code.consentId, jkt });
    const refreshToken = randomToken();
    // The refresh token ends with the consent (an ended consent is caught below and revokes it).
    const refreshUntil = (code.consentId ? consentUntil(consent) : undefined) ?? new Date(now.getTime() + REFRESH_TOKEN_TTL * 1000);
    const ok = await repo.exchangeCode(
      codeHash,
      now,
      { id: grantId, clientId: client.id, linkId: code.linkId, consentId: code.consentId, subject: code.subject, scopes: code.scopes, dpopJkt: jkt ?? null },
      { jti: claims.jti, grantId, clientId: client.id, expiresAt: new Date(claims.exp * 1000) },
      { tokenHash: hashToken(refreshToken), grantId, clientId: client.id, dpopJkt: jkt ?? null, expiresAt: refreshUntil },
    );
    if (!ok) {
      // Lost a race with another exchange of the same code: treat as a replay.
      const again = await repo.findCode(codeHash);
      if (again?.grantId) await repo.revokeGrant(again.grantId, "code_replayed", now);
      throw InvalidGrant("authorization code was already used");
    }
    // The consent may have been withdrawn, or the link unlinked, between approval and exchange.
    // Checked after the grant is written, in one read: an unlink withdraws before it revokes the
    // link's grants, and marks the link after that, so either that revocation sees this grant or
    // this read sees the withdrawal or the ended link.
    if (code.consentId) {
      const standing = await repo.findStanding(code.consentId, code.linkId);
      if (!consentUntil(standing.consent)) {
        await repo.revokeGrant(grantId, "consent_inactive", now);
        throw InvalidGrant("consent is no longer active");
      }
      // The link must still be live and hold this code's consent.
      if (code.linkId && !standing.linkHolds) {
        await repo.revokeGrant(grantId, "link_inactive", now);
        throw InvalidGrant("the link is no longer active");
      }
    }
    return tokenResponse(token, claims.exp, claims.iat, code.scopes, jkt, refreshToken);
  };
}
