import cookie from "@fastify/cookie";
import type { FastifyPluginAsync } from "fastify";
import type { BrokerContext } from "../broker-context.ts";
import type { ClientLookup, LedgerPort, OAuthPort } from "../contracts.ts";
import type { LinksRepo } from "../links/links-repo.ts";
import type { GraphClient } from "../messenger/graph-client.ts";
import { createCsrf } from "./attempt-cookie.ts";
import { registrantFetch } from "../net/outbound-fetch.ts";
import { createBankIdp, type BankIdp } from "./bank-idp.ts";
import { createLinkAttemptRepo } from "./link-attempt-repo.ts";
import { linkingRoutes } from "./linking-routes.ts";
import { createLinkingService } from "./linking-service.ts";
import { createTotpRepo } from "./totp-repo.ts";
import { createTotpService } from "./totp-service.ts";

/** How often attempts past their 10 minutes are marked expired (housekeeping; the flow checks expiry itself). */
export const EXPIRE_ATTEMPTS_INTERVAL_MS = 5_000;

export interface LinkingModuleDeps extends Pick<BrokerContext, "config" | "db" | "clock" | "sealer" | "scheduler" | "rateLimiter"> {
  clients: ClientLookup;
  /** Messenger's Graph client: account_linking_token → PSID. */
  graph: GraphClient;
  /** Link management's links: approval makes (or renews) one. */
  links: Pick<LinksRepo, "activate" | "setConsent">;
  oauth: Pick<OAuthPort, "consumePushedRequest" | "issueAuthorizationCode">;
  ledger: Pick<LedgerPort, "grant" | "reconsent">;
  /** The broker as relying party of the banks' OpenID providers; tests may pass their own. */
  bankIdp?: BankIdp;
}

/**
 * The /link flow (DESIGN.md "The linking flow"): the attempt state machine (link-attempt.ts),
 * the bank sign-in (openid-client), the TOTP second factor and the consent page, whose approval
 * writes the link, the ledger entry and the authorization code in one transaction.
 */
export function createLinkingModule(deps: LinkingModuleDeps) {
  const { config, db, clock, sealer, scheduler } = deps;
  const attempts = createLinkAttemptRepo(db);
  const service = createLinkingService({
    config,
    clock,
    sealer,
    clients: deps.clients,
    attempts,
    links: deps.links,
    graph: deps.graph,
    bankIdp: deps.bankIdp ?? createBankIdp({ redirectUri: `${config.publicUrl}/link/callback`, production: config.production, fetch: registrantFetch(config.outboundAllowlist) }),
    totp: createTotpService({ repo: createTotpRepo(db), sealer, clock }),
    oauth: deps.oauth,
    ledger: deps.ledger,
  });
  scheduler.every("linking.expire-attempts", EXPIRE_ATTEMPTS_INTERVAL_MS, () => attempts.expireDue(clock.now()));

  const routes: FastifyPluginAsync = async (app) => {
    await app.register(cookie);
    await app.register(linkingRoutes, {
      service,
      csrf: createCsrf(config.masterKey.key),
      rateLimiter: deps.rateLimiter,
      secureCookies: config.production,
      publicUrl: config.publicUrl,
    });
  };
  return { service, routes };
}
