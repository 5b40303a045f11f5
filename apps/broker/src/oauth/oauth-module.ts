import { createHash } from "node:crypto";
import type { TxSql } from "@link-broker/db";
import type { FastifyPluginAsync } from "fastify";
import type { BrokerContext } from "../broker-context.ts";
import { registrantFetch } from "../net/outbound-fetch.ts";
import { createBearerAuth } from "../plugins/bearer-auth.ts";
import { createClientAuth } from "../plugins/client-auth.ts";
import type { EndpointLimits } from "../plugins/rate-limit-policy.ts";
import { createClientAuthenticator } from "./clients/authenticate-client.ts";
import { createClientCache, createClientRepo } from "./clients/client-repo.ts";
import { createRegistrationService } from "./clients/register-service.ts";
import { createDpopVerifier } from "./dpop/check-dpop.ts";
import { createIntrospectionService } from "./introspect/introspect-service.ts";
import { createRevocationFeed } from "./introspect/revocation-feed.ts";
import type { KeyStore } from "./keys/key-store.ts";
import { type OAuthEndpoint, oauthRoutes } from "./oauth-routes.ts";
import { createParRepo } from "./par/par-repo.ts";
import { createParService } from "./par/par-service.ts";
import { createReplayRepo } from "./shared/replay-repo.ts";
import { createSweepRepo } from "./shared/sweep-repo.ts";
import { createAccessTokens } from "./token/access-token.ts";
import { createGrantHandlers } from "./token/grants/grant-types.ts";
import { issueAuthorizationCode, type AuthorizationCodeInput } from "./token/issue-authorization-code.ts";
import type { ConsentUntil } from "./token/token-service.ts";
import { createTokensRepo } from "./token/tokens-repo.ts";

export interface OAuthModuleDeps extends Pick<BrokerContext, "config" | "db" | "clock" | "sealer" | "log" | "scheduler" | "rateLimiter"> {
  keyStore: KeyStore;
  /**
   * Bounds refresh tokens: a token lives as long as its grant's consent. The ledger's rule over
   * a consent row read with the code or refresh token that names it (no query of its own).
   */
  consentUntil: ConsentUntil;
  /** Per-endpoint limits over config.rateLimits (BROKER_RATE_LIMITS and its defaults); tests lower them. */
  rateLimits?: Partial<Record<OAuthEndpoint, EndpointLimits>>;
}

/** Housekeeping every 10 minutes (cheap indexed deletes; concurrent runs in several processes are harmless). */
export const OAUTH_SWEEP_INTERVAL_MS = 10 * 60_000;

/**
 * The OAuth server: registration, client authentication, PAR, the token endpoint (grant table in
 * token/grants/grant-types.ts), introspection, revocation, DPoP. Its services are what other
 * modules use (client lookups, `clientAuth`, `requireScope`, codes, grant revocation); `routes`
 * registers its endpoints.
 */
export function createOAuthModule(deps: OAuthModuleDeps) {
  const { db, clock, sealer, config, keyStore, scheduler } = deps;
  const clientRepo = createClientRepo(db);
  const clients = createClientCache(clientRepo);
  const replay = createReplayRepo(db);
  const tokensRepo = createTokensRepo(db);
  const accessTokens = createAccessTokens({ keyStore, issuer: config.publicUrl, clock });
  const par = createParService({ repo: createParRepo(db), clock });
  const authenticator = createClientAuthenticator({ clients, replay, clock, config, fetch: registrantFetch(config.outboundAllowlist) });
  const dpop = createDpopVerifier({ replay, clock, secret: createHash("sha256").update(config.masterKey.key).digest() });
  const introspection = createIntrospectionService({
    repo: tokensRepo,
    accessTokens,
    feed: createRevocationFeed({ repo: tokensRepo }),
    clientExists: (id) => (clients.cached(id) ? true : clients.get(id).then((row) => row !== null)),
    clock,
    consentUntil: deps.consentUntil,
    issuer: config.publicUrl,
  });
  const sweepRepo = createSweepRepo(db);
  scheduler.every("oauth.sweep-expired", OAUTH_SWEEP_INTERVAL_MS, () => sweepRepo.sweep(clock.now()));

  const services = {
    keyStore,
    clients,
    authenticator,
    registration: createRegistrationService({ repo: clientRepo, cache: clients, sealer, config, clock }),
    dpop,
    par,
    accessTokens,
    grants: createGrantHandlers({ repo: tokensRepo, accessTokens, clock, consentUntil: deps.consentUntil }),
    introspection,
    rateLimiter: deps.rateLimiter,
    rateLimits: { ...config.rateLimits, ...deps.rateLimits },
    ...createClientAuth({ authenticator, publicUrl: config.publicUrl }),
    ...createBearerAuth({ introspection, dpop, publicUrl: config.publicUrl }),
    /** Deletes expired replay guards, rate-limit windows, pushed requests and old codes. */
    sweepExpired: () => sweepRepo.sweep(clock.now()),
    /** Contract: a single-use code inside the caller's transaction, valid 60 s from the broker clock. */
    issueAuthorizationCode: (tx: TxSql, input: AuthorizationCodeInput) => issueAuthorizationCode(tokensRepo, tx, input, clock.now()),
    /** Contract: single-use, bound to the client; undefined when unknown, used, expired or another client's. */
    consumePushedRequest: par.consumePushedRequest,
    /** Console: every registered client, disabled ones too. */
    listClients: () => clientRepo.list(),
    /** Console: revokes the client's tokens and stops new links (soft delete); false when already disabled or unknown. */
    async disableClient(id: string): Promise<boolean> {
      if (!(await clientRepo.findById(id))) return false;
      await clientRepo.remove(id, clock.now());
      clients.invalidate(id);
      return true;
    },
    /** Contract: ends every grant (and its tokens) of a link; returns how many were active. */
    revokeGrantsOfLink: (linkId: string, reason: string) => tokensRepo.revokeGrantsOfLink(linkId, reason, clock.now()),
  };
  const routes: FastifyPluginAsync = async (app) => {
    await app.register(oauthRoutes, { oauth: services, publicUrl: config.publicUrl });
  };
  return { ...services, routes };
}
