import type { FastifyPluginAsync, preHandlerHookHandler } from "fastify";
import type { BrokerContext } from "../broker-context.ts";
import type { LedgerPort, LinkUnlinker, OAuthPort } from "../contracts.ts";
import { createJobRepo } from "./job-repo.ts";
import { createJobRunner, type JobHandler } from "./job-runner.ts";
import type { LinksRepo } from "./links-repo.ts";
import { linksRoutes } from "./links-routes.ts";
import { createLinksService } from "./links-service.ts";

/** How often due jobs (Graph unlink retries) run, and links are reconciled with the ledger. */
export const JOB_INTERVAL_MS = 5_000;
export const RECONCILE_INTERVAL_MS = 5_000;

export interface LinksModuleDeps extends Pick<BrokerContext, "db" | "clock" | "log" | "scheduler"> {
  /** The links' store (app.ts makes it first: OAuth's code exchange asks it too). */
  repo: LinksRepo;
  oauth: Pick<OAuthPort, "revokeGrantsOfLink">;
  ledger: Pick<LedgerPort, "withdraw" | "endOf" | "inactiveAmong">;
  /** Durable job handlers by kind (Messenger's unlink job). */
  jobHandlers: Record<string, JobHandler>;
}

/**
 * Link management: the links between a bank customer and a Messenger PSID, unlinking from any
 * side, the durable jobs that tell Messenger (with retries), and the reconciler that ends links
 * whose consent ended in the ledger. `/links` routes take the client authentication as an option.
 */
export function createLinksModule(deps: LinksModuleDeps) {
  const { db, clock, log, scheduler, repo } = deps;
  const jobs = createJobRepo(db);
  const jobRunner = createJobRunner({
    repo: jobs,
    clock,
    handlers: deps.jobHandlers,
    onLeaseLost: (job) => log.warn({ job: job.id, kind: job.kind }, "job lease ran out before it finished; another runner may repeat it"),
    onError: (job, err) => log.warn({ job: job.id, kind: job.kind, attempts: job.attempts, err: (err as Error).message }, "job failed; will retry"),
  });
  const service = createLinksService({ links: repo, jobs, oauth: deps.oauth, ledger: deps.ledger, clock, runJob: (id) => jobRunner.runOne(id) });
  scheduler.every("links.run-jobs", JOB_INTERVAL_MS, () => jobRunner.runDue());
  scheduler.every("links.reconcile-ended-consents", RECONCILE_INTERVAL_MS, () => service.reconcileEndedConsents());

  /** What Messenger's webhook uses to unlink. */
  const unlinker: LinkUnlinker = { activeByPsid: repo.activeByPsid, unlink: service.unlink };
  const routes: FastifyPluginAsync<{ clientAuth: preHandlerHookHandler }> = async (app, { clientAuth }) => {
    await app.register(linksRoutes, { clientAuth, links: repo, service });
  };
  return { repo, service, jobRunner, unlinker, routes };
}
