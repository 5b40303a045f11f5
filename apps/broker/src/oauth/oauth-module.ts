import { createHash } from "node:crypto";
import type { Tx } from "@link-broker/db";
import type { BrokerContext } from "../app.ts";
import { registrantFetch } from "../net/outbound-fetch.ts";
import { DEFAULT_RATE_LIMITS, createRateLimiter, type EndpointLimits } from "../plugins/rate-limit.ts";
import { createClientAuthenticator } from "./clients/authenticate-client.ts";
import { createClientCache, createClientRepo } from "./clients/client-repo.ts";
import { createRegistrationService } from "./clients/register-service.ts";
import { createDpopVerifier } from "./dpop/check-dpop.ts";
import { createIntrospectionService } from "./introspect/introspect-service.ts";
import { createRevocationFeed } from "./introspect/revocation-feed.ts";
import { createKeyStore } from "./keys/key-store.ts";
import { createKeysRepo } from "./keys/keys-repo.ts";
import { createParRepo } from "./par/par-repo.ts";
import { createParService } from "./par/par-service.ts";
import { createAccessTokens } from "./token/access-token.ts";
import { authorizationCodeGrant } from "./token/grants/authorization-code.ts";
import { clientCredentialsGrant } from "./token/grants/client-credentials.ts";
import { refreshTokenGrant } from "./token/grants/refresh-token.ts";
import { issueAuthorizationCode, type AuthorizationCodeInput } from "./token/issue-authorization-code.ts";
import { allowAllConsents, allowAllLinks, type ConsentCheck, type LinkCheck } from "./token/token-service.ts";
import { createTokensRepo } from "./token/tokens-repo.ts";
import { createReplayRepo } from "./shared/replay-repo.ts";
import { createSweepRepo } from "./shared/sweep-repo.ts";

export interface OAuthOptions {
  /** The consent ledger's check; until it is wired every grant's consent counts as active. */
  consentCheck?: ConsentCheck;
  /** The links module's check at code exchange: the link is active and holds the code's consent. */
  linkCheck?: LinkCheck;
  rateLimits?: Partial<typeof DEFAULT_RATE_LIMITS>;
}

/** Builds the OAuth services once from the broker context. */
export function createOAuth(ctx: Omit<BrokerContext, "ledger">, options: OAuthOptions = {}) {
  const { db, clock, sealer, config } = ctx;
  const consentCheck = options.consentCheck ?? allowAllConsents;
  const clientRepo = createClientRepo(db);
  const clients = createClientCache(clientRepo);
  const replay = createReplayRepo(db);
  const keyStore = createKeyStore({ repo: createKeysRepo(db), sealer, clock });
  const tokensRepo = createTokensRepo(db);
  const accessTokens = createAccessTokens({ keyStore, issuer: config.publicUrl, clock });
  const par = createParService({ repo: createParRepo(db), clock });
  const tokenDeps = { repo: tokensRepo, accessTokens, clock, consentCheck, linkCheck: options.linkCheck ?? allowAllLinks };
  const rateLimits: Record<keyof typeof DEFAULT_RATE_LIMITS, EndpointLimits> = { ...DEFAULT_RATE_LIMITS, ...options.rateLimits };

  return {
    keyStore,
    /** Contract: compact ES256 JWS with the active kid (consent receipts, ledger checkpoints). */
    signer: keyStore.signer,
    clients,
    authenticator: createClientAuthenticator({ clients, replay, clock, config, fetch: registrantFetch(config.outboundAllowlist) }),
    registration: createRegistrationService({ repo: clientRepo, cache: clients, sealer, config, clock }),
    dpop: createDpopVerifier({ replay, clock, secret: createHash("sha256").update(config.masterKey.key).digest() }),
    par,
    accessTokens,
    grants: {
      authorization_code: authorizationCodeGrant(tokenDeps),
      refresh_token: refreshTokenGrant(tokenDeps),
      client_credentials: clientCredentialsGrant(tokenDeps),
    } as Record<string, ReturnType<typeof clientCredentialsGrant>>,
    introspection: createIntrospectionService({ repo: tokensRepo, accessTokens, feed: createRevocationFeed({ db }), clientExists: async (id) => (await clients.get(id)) !== null, clock, consentCheck, issuer: config.publicUrl }),
    rateLimiter: createRateLimiter({ db }),
    /** Deletes expired replay guards, rate-limit windows, pushed requests and old codes. */
    sweepExpired: () => createSweepRepo(db).sweep(clock.now()),
    rateLimits,
    /** Contract: a single-use code inside the caller's transaction, valid 60 s from the broker clock. */
    issueAuthorizationCode: (tx: Tx, input: AuthorizationCodeInput) => issueAuthorizationCode(tx, input, clock.now()),
    /** Contract: single-use, bound to the client; undefined when unknown, used, expired or another client's. */
    consumePushedRequest: par.consumePushedRequest,
    /** Contract: ends every grant (and its tokens) of a link; returns how many were active. */
    revokeGrantsOfLink: (linkId: string, reason: string) => tokensRepo.revokeGrantsOfLink(linkId, reason, clock.now()),
  };
}
export type OAuthModule = ReturnType<typeof createOAuth>;

declare module "fastify" {
  interface FastifyInstance {
    oauth: OAuthModule;
  }
}
