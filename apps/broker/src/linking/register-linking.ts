import cookie from "@fastify/cookie";
import type { Db } from "@link-broker/db";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import type { Sealer } from "../crypto/seal.ts";
import { createJobRepo } from "../links/job-repo.ts";
import { createJobRunner, type JobRunner } from "../links/job-runner.ts";
import { createLinksRepo } from "../links/links-repo.ts";
import { linksRoutes } from "../links/links-routes.ts";
import { createLinksService, GRAPH_UNLINK_JOB, graphUnlinkHandler, type LinksService } from "../links/links-service.ts";
import { messengerWebhookRoutes } from "../links/messenger-webhook-routes.ts";
import { createReplayGuardRepo } from "../links/replay-guard-repo.ts";
import { createOutboundFetch, registrantFetch } from "../net/outbound-fetch.ts";
import { createCsrf } from "./attempt-cookie.ts";
import { createBankIdp, type BankIdp } from "./bank-idp.ts";
import { createGraphClient, type GraphClient } from "./graph-client.ts";
import { createLinkAttemptRepo } from "./link-attempt-repo.ts";
import type { ClientLookup, LinkingDeps } from "./linking-deps.ts";
import { linkingRoutes } from "./linking-routes.ts";
import { createLinkingService } from "./linking-service.ts";
import { createRateLimitRepo } from "./rate-limit-repo.ts";
import { createTotpRepo } from "./totp-repo.ts";
import { createTotpService } from "./totp-service.ts";

export interface LinkingContext {
  config: Config;
  db: Db;
  clock: Clock;
  sealer: Sealer;
}

/** Optional overrides (tests): the Graph client, the bank relying party, the job runner's pace. */
export interface LinkingOverrides {
  graph?: GraphClient;
  bankIdp?: BankIdp;
  jobIntervalMs?: number;
  /** false: the job runner is not started with the app (tests drive it). */
  startJobRunner?: boolean;
}

export interface LinkingHandle {
  links: LinksService;
  jobRunner: JobRunner;
}

/** A Prisma lookup of registered clients, until the OAuth client repo is wired in. */
function prismaClientLookup(db: Pick<Db, "prisma">): ClientLookup {
  return { findById: (id) => db.prisma.client.findFirst({ where: { id, deletedAt: null } }) };
}

/**
 * The linking flow (/link...), link management (/links) and the Messenger webhook, with the job
 * runner that retries Graph unlink calls. Decorates the app with `linking` (links service, runner).
 */
export async function registerLinking(app: FastifyInstance, ctx: LinkingContext, deps: LinkingDeps, overrides: LinkingOverrides = {}): Promise<LinkingHandle> {
  const { config, db, clock, sealer } = ctx;
  const clients = deps.clients ?? prismaClientLookup(db);
  // The Graph URL is the operator's own configuration, so its fetch is capped but not address-checked.
  const graph = overrides.graph ?? createGraphClient({ baseUrl: config.messengerGraphUrl, timeoutMs: 5_000, fetch: createOutboundFetch({ timeoutMs: 5_000 }) });
  const bankIdp =
    overrides.bankIdp ?? createBankIdp({ redirectUri: `${config.publicUrl}/link/callback`, production: config.production, fetch: registrantFetch(config.outboundAllowlist) });

  const linksRepo = createLinksRepo(db);
  const attempts = createLinkAttemptRepo(db);
  const replayGuard = createReplayGuardRepo(db);
  const jobs = createJobRepo(db);
  const jobRunner = createJobRunner({
    repo: jobs,
    clock,
    intervalMs: overrides.jobIntervalMs,
    handlers: { [GRAPH_UNLINK_JOB]: graphUnlinkHandler({ clients, sealer, graph }) },
    onTick: () =>
      Promise.all([
        attempts.expireDue(clock.now()),
        replayGuard.purgeExpired("messenger", clock.now()),
        links.reconcileEndedConsents().catch((err) => app.log.warn({ err: (err as Error).message }, "reconciling links with the ledger failed")),
      ]),
    onError: (job, err) => app.log.warn({ job: job.id, kind: job.kind, attempts: job.attempts, err: (err as Error).message }, "job failed; will retry"),
  });
  const links = createLinksService({ links: linksRepo, jobs, oauth: deps.oauth, ledger: deps.ledger, clock, runJob: (id) => jobRunner.runOne(id) });

  const service = createLinkingService({
    config,
    db,
    clock,
    sealer,
    clients,
    attempts,
    links: linksRepo,
    graph,
    bankIdp,
    totp: createTotpService({ repo: createTotpRepo(db), sealer, clock }),
    oauth: deps.oauth,
    ledger: deps.ledger,
  });

  await app.register(async (scope) => {
    await scope.register(cookie);
    await scope.register(linkingRoutes, {
      service,
      csrf: createCsrf(config.masterKey.key),
      rateLimits: createRateLimitRepo(db),
      clock,
      secureCookies: config.production,
      publicUrl: config.publicUrl,
    });
  });
  await app.register(linksRoutes, { clientAuth: deps.clientAuth, links: linksRepo, service: links });
  await app.register(messengerWebhookRoutes, { clients, sealer, clock, links: linksRepo, service: links, replayGuard });

  if (overrides.startJobRunner !== false) {
    app.addHook("onReady", async () => jobRunner.start());
  }
  app.addHook("onClose", async () => jobRunner.stop());

  const handle = { links, jobRunner };
  app.decorate("linking", handle);
  return handle;
}

declare module "fastify" {
  interface FastifyInstance {
    linking?: LinkingHandle;
  }
}
