import type { FastifyRequest, preHandlerAsyncHookHandler } from "fastify";
import { InsufficientScope, InvalidToken, OAuthError } from "../errors.ts";
import type { DpopVerifier } from "../oauth/dpop/check-dpop.ts";
import type { IntrospectionService } from "../oauth/introspect/introspect-service.ts";
import { endpointUrl } from "./client-auth.ts";

/** What a verified broker access token tells the route. */
export interface VerifiedToken {
  clientId: string;
  scopes: string[];
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

async function verifyBearer(deps: BearerAuthDeps, request: FastifyRequest): Promise<VerifiedToken> {
  const header = request.headers.authorization ?? "";
  const match = /^(Bearer|DPoP) ([A-Za-z0-9\-._~+/]+=*)$/i.exec(header);
  if (!match) throw InvalidToken("an access token is required");
  const scheme = match[1]!.toLowerCase();
  const token = match[2]!;
  const claims = await deps.introspection.liveAccessToken(token);
  if (!claims) throw InvalidToken("access token is not valid");
  if (claims.cnf?.jkt) {
    if (scheme !== "dpop") throw dpopError(new OAuthError("invalid_token", "this token is DPoP-bound: use the DPoP scheme with a proof"));
    try {
      const { jkt } = await deps.dpop.verify({ proof: request.headers.dpop, htm: request.method, htu: endpointUrl(deps.publicUrl, request), accessToken: token });
      if (jkt !== claims.cnf.jkt) throw new OAuthError("invalid_token", "DPoP proof key does not match the token");
    } catch (error) {
      throw dpopError(error);
    }
  } else if (scheme !== "bearer") {
    throw InvalidToken("this token is not DPoP-bound: use the Bearer scheme");
  }
  return {
    clientId: claims.client_id,
    scopes: claims.scope.split(" ").filter(Boolean),
    sub: claims.sub,
    linkId: claims.link_id ?? null,
    consentId: claims.consent_id ?? null,
    jti: claims.jti,
    jkt: claims.cnf?.jkt ?? null,
  };
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
    requireScope(scope: string): preHandlerAsyncHookHandler {
      return async function requireScopeHook(request) {
        const token = await verifyBearer(deps, request);
        if (!token.scopes.includes(scope)) throw InsufficientScope(`this endpoint needs the ${scope} scope`);
        request.token = token;
      };
    },
  };
}
