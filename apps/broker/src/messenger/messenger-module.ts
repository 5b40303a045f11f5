import type { FastifyPluginAsync } from "fastify";
import type { BrokerContext } from "../broker-context.ts";
import type { ClientLookup, LinkUnlinker } from "../contracts.ts";
import { createOutboundFetch } from "../net/outbound-fetch.ts";
import { createGraphClient, type GraphClient } from "./graph-client.ts";
import { messengerWebhookRoutes } from "./messenger-webhook-routes.ts";
import { createReplayGuardRepo } from "./replay-guard-repo.ts";
import { GRAPH_UNLINK_JOB, graphUnlinkHandler } from "./unlink-job.ts";

/** Remembered webhook deliveries past their week are dropped this often. */
export const DELIVERY_PURGE_INTERVAL_MS = 5_000;

export interface MessengerModuleDeps extends Pick<BrokerContext, "config" | "db" | "clock" | "sealer" | "scheduler"> {
  /** Registered clients (the OAuth module's cache): their Messenger page settings. */
  clients: ClientLookup;
  /** The Graph API client; tests pass one for a fake Graph on loopback. */
  graph?: GraphClient;
}

/**
 * Messenger: the Graph API client (account_linking_token → PSID, unlink_accounts), the webhook
 * (`/messenger/webhook/:client_id`), and the job that tells Messenger about an unlink. A new
 * Messenger event is handled in messenger-webhook-routes.ts.
 */
export function createMessengerModule(deps: MessengerModuleDeps) {
  const { config, db, clock, sealer, clients, scheduler } = deps;
  // The Graph URL is the operator's own configuration: its fetch is capped, not address-checked.
  const graph = deps.graph ?? createGraphClient({ baseUrl: config.messengerGraphUrl, timeoutMs: 5_000, fetch: createOutboundFetch({ timeoutMs: 5_000 }) });
  const replayGuard = createReplayGuardRepo(db);
  scheduler.every("messenger.purge-deliveries", DELIVERY_PURGE_INTERVAL_MS, () => replayGuard.purgeExpired("messenger", clock.now()));

  const routes: FastifyPluginAsync<{ links: LinkUnlinker }> = async (app, { links }) => {
    await app.register(messengerWebhookRoutes, { clients, sealer, clock, links, replayGuard });
  };
  return {
    graph,
    /** Job handlers by kind, for the job runner. */
    jobHandlers: { [GRAPH_UNLINK_JOB]: graphUnlinkHandler({ clients, sealer, graph }) },
    routes,
  };
}
