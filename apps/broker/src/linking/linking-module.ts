import cookie from "@fastify/cookie";
import type { FastifyPluginAsync } from "fastify";
import type { BrokerContext } from "../broker-context.ts";
import type { ClientLookup, LedgerPort, OAuthPort } from "../contracts.ts";
import type { LinksRepo } from "../links/links-repo.ts";
import type { GraphClient } from "../messenger/graph-client.ts";
import { createCsrf } from "./attempt-cookie.ts";
import { registrantFetch } from "../net/outbound-fetch.ts";
import { createBankIdp, type BankIdp } from "./bank-idp.ts";
import { ATTEMPT_RETENTION_MS } from "./link-attempt.ts";
import { createLinkAttemptRepo } from "./link-attempt-repo.ts";
import { linkingRoutes } from "./linking-routes.ts";
import { createLinkingService, type LinkLimits } from "./linking-service.ts";
import { createResetSecondFactor } from "./reset-second-factor.ts";
import { createTotpRepo } from "./totp-repo.ts";
import { createTotpService } from "./totp-service.ts";

/**
 * How often attempts past their 10 minutes are marked expired (housekeeping; the flow checks
 * expiry itself), and those a day past it deleted.
 */
export const EXPIRE_ATTEMPTS_INTERVAL_MS = 5_000;

export interface LinkingModuleDeps extends Pick<BrokerContext, "config" | "db" | "clock" | "sealer" | "scheduler" | "rateLimiter" | "log"> {
  clients: ClientLookup;
  /** Messenger's Graph client: account_linking_token → PSID. */
  graph: GraphClient;
  /** Link management's links: approval makes (or renews) one; a factor reset tells each linked chat. */
  links: Pick<LinksRepo, "activate" | "setConsent" | "activeBySubject">;
  oauth: Pick<OAuthPort, "consumePushedRequest" | "issueAuthorizationCode">;
  ledger: Pick<LedgerPort, "grant" | "reconsent">;
  /** The broker as relying party of the banks' OpenID providers; tests may pass their own. */
  bankIdp?: BankIdp;
  /** /link starts per caller address and per client (default: config.rateLimits.link). */
  linkLimits?: LinkLimits;
}

/**
 * The /link flow (DESIGN.md "The linking flow"): the attempt state machine (link-attempt.ts),
 * the bank sign-in (openid-client), the TOTP second factor and the consent page, whose approval
 * writes the link, the ledger entry and the authorization code in one transaction.
 */
export function createLinkingModule(deps: LinkingModuleDeps) {
  const { config, db, clock, sealer, scheduler } = deps;
  const attempts = createLinkAttemptRepo(db);
  const totpRepo = createTotpRepo(db);
  const linkLimits = deps.linkLimits ?? config.rateLimits.link;
  const service = createLinkingService({
    config,
    clock,
    sealer,
    clients: deps.clients,
    attempts,
    links: deps.links,
    graph: deps.graph,
    bankIdp: deps.bankIdp ?? createBankIdp({ redirectUri: `${config.publicUrl}/link/callback`, production: config.production, fetch: registrantFetch(config.outboundAllowlist) }),
    totp: createTotpService({ repo: totpRepo, sealer, clock }),
    oauth: deps.oauth,
    ledger: deps.ledger,
    rateLimiter: deps.rateLimiter,
    linkLimits,
  });
  /** Staff reset of a customer's second factor (the console and CLI call it and audit the result). */
  const resetSecondFactor = createResetSecondFactor({
    totp: totpRepo,
    links: deps.links,
    clients: deps.clients,
    sealer,
    graph: deps.graph,
    clock,
    onNotifyError: (err) => deps.log.warn({ err: err.message }, "telling the customer about a second-factor reset failed"),
  });
  scheduler.every("linking.expire-attempts", EXPIRE_ATTEMPTS_INTERVAL_MS, async () => {
    await attempts.expireDue(clock.now());
    await attempts.purgeExpired(new Date(clock.now().getTime() - ATTEMPT_RETENTION_MS));
  });

  const routes: FastifyPluginAsync = async (app) => {
    await app.register(cookie);
    await app.register(linkingRoutes, {
      service,
      csrf: createCsrf(config.masterKey.key),
      rateLimiter: deps.rateLimiter,
      secureCookies: config.production,
      publicUrl: config.publicUrl,
      linkIpLimit: linkLimits.perIp,
      secondFactorLimits: config.rateLimits.link_2fa,
      formActionOrigins: [...new Set(config.messengerRedirectAllowlist.map((prefix) => new URL(prefix).origin))],
    });
  };
  return { service, routes, resetSecondFactor };
}
