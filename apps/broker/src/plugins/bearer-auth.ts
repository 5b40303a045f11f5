import type { FastifyRequest, preHandlerHookHandler } from "fastify";
import { InsufficientScope, InvalidToken, OAuthError } from "../errors.ts";
import type { DpopVerifier } from "../oauth/dpop/check-dpop.ts";
import type { IntrospectionService } from "../oauth/introspect/introspect-service.ts";
import type { AccessTokenClaims } from "../oauth/token/access-token.ts";
import { endpointUrl } from "./client-auth.ts";

/** What a verified broker access token tells the route. */
export interface VerifiedToken {
  clientId: string;
  scopes: readonly string[];
  sub: string;
  linkId: string | null;
  consentId: string | null;
  jti: string;
  jkt: string | null;
}

declare module "fastify" {
  interface FastifyRequest {
    /** The verified access token, set by `requireScope`. */
    token?: VerifiedToken;
  }
}

function dpopError(error: unknown): OAuthError {
  // Resource-server form of DPoP errors (RFC 9449 §7.1): 401 with a DPoP challenge.
  const e = error instanceof OAuthError ? error : new OAuthError("invalid_token", "DPoP proof is not valid");
  const out = new OAuthError(e.code === "use_dpop_nonce" ? "use_dpop_nonce" : "invalid_token", e.message, 401);
  out.headers["www-authenticate"] = `DPoP error="${out.code}", error_description="${e.message.replace(/"/g, "'")}", algs="ES256 PS256 RS256 EdDSA"`;
  if (e.headers["dpop-nonce"]) out.headers["dpop-nonce"] = e.headers["dpop-nonce"];
  return out;
}

const AUTHORIZATION = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i;

/**
 * The request's access token, verified: without a promise when the token is a client_credentials
 * token the process already knows (introspect-service.ts `liveAccessToken`). Throws the 401.
 */
function verifyBearer(deps: BearerAuthDeps, request: FastifyRequest): VerifiedToken | Promise<VerifiedToken> {
  const match = AUTHORIZATION.exec(request.headers.authorization ?? "");
  if (!match) throw InvalidToken("an access token is required");
  const scheme = match[1]!.toLowerCase();
  const token = match[2]!;
  const claims = deps.introspection.liveAccessToken(token);
  return claims instanceof Promise ? claims.then((c) => admit(deps, request, scheme, token, c)) : admit(deps, request, scheme, token, claims);
}

function admit(deps: BearerAuthDeps, request: FastifyRequest, scheme: string, token: string, claims: AccessTokenClaims | undefined): VerifiedToken | Promise<VerifiedToken> {
  if (!claims) throw InvalidToken("access token is not valid");
  if (claims.cnf?.jkt) return admitDpop(deps, request, token, scheme, claims);
  if (scheme !== "bearer") throw InvalidToken("this token is not DPoP-bound: use the Bearer scheme");
  return verifiedToken(claims);
}

async function admitDpop(deps: BearerAuthDeps, request: FastifyRequest, token: string, scheme: string, claims: AccessTokenClaims): Promise<VerifiedToken> {
  if (scheme !== "dpop") throw dpopError(new OAuthError("invalid_token", "this token is DPoP-bound: use the DPoP scheme with a proof"));
  try {
    const { jkt } = await deps.dpop.verify({ proof: request.headers.dpop, htm: request.method, htu: endpointUrl(deps.publicUrl, request), accessToken: token });
    if (jkt !== claims.cnf?.jkt) throw new OAuthError("invalid_token", "DPoP proof key does not match the token");
  } catch (error) {
    throw dpopError(error);
  }
  return verifiedToken(claims);
}

// One frozen view per verified token's claims (access-token.ts keeps one claims object per
// token), so a token presented again costs no split of its scopes and no new object.
const views = new WeakMap<AccessTokenClaims, VerifiedToken>();

function verifiedToken(claims: AccessTokenClaims): VerifiedToken {
  let view = views.get(claims);
  if (!view) {
    view = Object.freeze({
      clientId: claims.client_id,
      scopes: Object.freeze(claims.scope.split(" ").filter(Boolean)),
      sub: claims.sub,
      linkId: claims.link_id ?? null,
      consentId: claims.consent_id ?? null,
      jti: claims.jti,
      jkt: claims.cnf?.jkt ?? null,
    });
    views.set(claims, view);
  }
  return view;
}

export interface BearerAuthDeps {
  introspection: Pick<IntrospectionService, "liveAccessToken">;
  dpop: Pick<DpopVerifier, "verify">;
  publicUrl: string;
}

/**
 * The broker's own APIs take its access tokens: `requireScope(scope)` is a preHandler that wants a
 * valid, unrevoked broker access token carrying `scope` (with its DPoP proof when the token is
 * DPoP-bound), and sets `request.token`. The OAuth module builds it.
 */
export function createBearerAuth(deps: BearerAuthDeps) {
  return {
    requireScope(scope: string): preHandlerHookHandler {
      const admitScope = (request: FastifyRequest, token: VerifiedToken): OAuthError | undefined => {
        if (!token.scopes.includes(scope)) return InsufficientScope(`this endpoint needs the ${scope} scope`);
        request.token = token;
        return undefined;
      };
      // Callback style: a token the process already knows is judged without a promise or a tick.
      return function requireScopeHook(request, _reply, done) {
        let verified: VerifiedToken | Promise<VerifiedToken>;
        try {
          verified = verifyBearer(deps, request);
        } catch (error) {
          done(error as Error);
          return;
        }
        if (verified instanceof Promise) verified.then((token) => done(admitScope(request, token)), done);
        else done(admitScope(request, verified));
      };
    },
  };
}
