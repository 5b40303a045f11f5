import type { Clock } from "../../clock.ts";
import { hashToken } from "../../crypto/hash.ts";
import type { ClientRow } from "../clients/client-repo.ts";
import type { AccessTokenClaims, AccessTokens } from "../token/access-token.ts";
import type { ConsentUntil } from "../token/token-service.ts";
import type { ConsentRow, GrantRow, TokensRepo } from "../token/tokens-repo.ts";
import type { RevocationFeed } from "./revocation-feed.ts";

export interface IntrospectionResponse {
  active: boolean;
  scope?: string;
  client_id?: string;
  token_type?: string;
  exp?: number;
  iat?: number;
  sub?: string;
  aud?: string;
  iss?: string;
  jti?: string;
  cnf?: { jkt: string };
  link_id?: string;
  consent_id?: string;
}

const INACTIVE: IntrospectionResponse = { active: false };
type MaybeLive = AccessTokenClaims | undefined;

// One answer per live access token's claims (access-token.ts keeps one claims object per token):
// a token introspected again costs no new answer. Only ever handed out after the checks above.
const answers = new WeakMap<AccessTokenClaims, IntrospectionResponse>();

/** RFC 7662's answer for a live access token. */
function activeAnswer(c: AccessTokenClaims): IntrospectionResponse {
  let answer = answers.get(c);
  if (!answer) {
    answer = Object.freeze({
      active: true,
      scope: c.scope,
      client_id: c.client_id,
      token_type: c.cnf ? "DPoP" : "Bearer",
      exp: c.exp,
      iat: c.iat,
      sub: c.sub,
      aud: c.aud,
      iss: c.iss,
      jti: c.jti,
      ...(c.cnf ? { cnf: c.cnf } : {}),
      ...(c.link_id ? { link_id: c.link_id } : {}),
      ...(c.consent_id ? { consent_id: c.consent_id } : {}),
    });
    answers.set(c, answer);
  }
  return answer;
}
/** Two dots and no third: a JWS compact serialization (checked without splitting the token). */
const looksLikeJwt = (t: string) => {
  const first = t.indexOf(".");
  const second = first < 0 ? -1 : t.indexOf(".", first + 1);
  return second > 0 && t.indexOf(".", second + 1) < 0;
};

/**
 * Introspection (RFC 7662) and revocation (RFC 7009). A client only ever sees or ends its own
 * tokens: another client's token is simply inactive, and revoking it does nothing.
 */
export function createIntrospectionService(deps: { repo: Pick<TokensRepo, "findAccessTokenGrant" | "findRefreshWithGrant" | "findRefresh" | "revokeGrant" | "revokeAccessToken">; accessTokens: Pick<AccessTokens, "verify">; feed: RevocationFeed; clientExists: (id: string) => boolean | Promise<boolean>; clock: Clock; consentUntil: ConsentUntil; issuer: string }) {
  const { repo, accessTokens, clock, consentUntil } = deps;

  /**
   * Whether a grant's consent still stands, judged by the ledger's rule on the consent row read
   * with the token (no query of its own); one that ended revokes the grant.
   */
  async function consentStands(grant: GrantRow, consent: ConsentRow | null): Promise<boolean> {
    if (!grant.consentId || consentUntil(consent)) return true;
    await repo.revokeGrant(grant.id, "consent_inactive", clock.now());
    return false;
  }

  /**
   * An access token is live when it verifies, is not revoked, and its grant and consent still
   * stand. A client_credentials token whose signature, revocation mirror and client are all in
   * memory is answered without a promise (the hot path of `/ledger/check` and introspection).
   */
  function liveAccessToken(token: string): MaybeLive | Promise<MaybeLive> {
    const claims = accessTokens.verify(token);
    return claims instanceof Promise ? claims.then(liveClaims) : liveClaims(claims);
  }

  function liveClaims(claims: MaybeLive): MaybeLive | Promise<MaybeLive> {
    if (!claims) return undefined;
    if (claims.link_id) return liveLinkedClaims(claims);
    // client_credentials: no row unless revoked; the in-memory feed answers without a query.
    const revoked = deps.feed.isRevoked(claims.jti);
    if (revoked instanceof Promise) return revoked.then((r) => (r ? undefined : ofExistingClient(claims)));
    return revoked ? undefined : ofExistingClient(claims);
  }

  function ofExistingClient(claims: AccessTokenClaims): MaybeLive | Promise<MaybeLive> {
    const exists = deps.clientExists(claims.client_id);
    if (exists instanceof Promise) return exists.then((e) => (e ? claims : undefined));
    return exists ? claims : undefined;
  }

  // A linked token is live only through its row, its grant and that grant's consent: one that
  // cannot be traced to them (its row gone) is refused, never trusted on its signature alone.
  async function liveLinkedClaims(claims: AccessTokenClaims): Promise<MaybeLive> {
    const row = await repo.findAccessTokenGrant(claims.jti);
    const grant = row?.grant;
    if (!grant || row.revokedAt || grant.revokedAt) return undefined;
    return (await consentStands(grant, row.consent)) ? claims : undefined;
  }

  async function liveRefreshToken(token: string) {
    const found = await repo.findRefreshWithGrant(hashToken(token));
    if (!found) return undefined;
    const { refresh: rt, grant, consent } = found;
    if (rt.revokedAt || rt.rotatedAt || rt.expiresAt <= clock.now()) return undefined;
    if (!grant || grant.revokedAt) return undefined;
    return (await consentStands(grant, consent)) ? { rt, grant } : undefined;
  }

  return {
    async introspect(client: ClientRow, token: string): Promise<IntrospectionResponse> {
      if (looksLikeJwt(token)) {
        const live = liveAccessToken(token);
        const c = live instanceof Promise ? await live : live;
        if (!c || c.client_id !== client.id) return INACTIVE;
        return activeAnswer(c);
      }
      const live = await liveRefreshToken(token);
      if (!live || live.rt.clientId !== client.id) return INACTIVE;
      return {
        active: true,
        scope: live.grant.scopes.join(" "),
        client_id: client.id,
        token_type: "refresh_token",
        exp: Math.floor(live.rt.expiresAt.getTime() / 1000),
        iss: deps.issuer,
        ...(live.grant.subject ? { sub: live.grant.subject } : {}),
        ...(live.rt.dpopJkt ? { cnf: { jkt: live.rt.dpopJkt } } : {}),
        ...(live.grant.linkId ? { link_id: live.grant.linkId } : {}),
        ...(live.grant.consentId ? { consent_id: live.grant.consentId } : {}),
      };
    },

    /** Always succeeds for the caller (RFC 7009 §2.2); revoking a refresh token ends its grant. */
    async revoke(client: ClientRow, token: string): Promise<void> {
      const now = clock.now();
      if (looksLikeJwt(token)) {
        const c = await accessTokens.verify(token);
        if (c && c.client_id === client.id) {
          await repo.revokeAccessToken(c.jti, client.id, new Date(c.exp * 1000), now);
          deps.feed.add(c.jti, new Date(c.exp * 1000));
        }
        return;
      }
      const rt = await repo.findRefresh(hashToken(token));
      if (rt && rt.clientId === client.id) await repo.revokeGrant(rt.grantId, "revoked_by_client", now);
    },

    liveAccessToken,
  };
}
export type IntrospectionService = ReturnType<typeof createIntrospectionService>;
