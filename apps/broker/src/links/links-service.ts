import type { Clock } from "../clock.ts";
import type { Sealer } from "../crypto/seal.ts";
import { messengerSettings } from "../linking/client-secrets.ts";
import type { GraphClient } from "../linking/graph-client.ts";
import type { ClientLookup, LedgerActor, LinkingLedger, LinkingOAuth } from "../linking/linking-deps.ts";
import type { JobRepo } from "./job-repo.ts";
import type { LinksRepo } from "./links-repo.ts";

export const GRAPH_UNLINK_JOB = "messenger.unlink";

export interface LinksServiceDeps {
  links: Pick<LinksRepo, "find" | "markUnlinked">;
  jobs: Pick<JobRepo, "enqueue">;
  oauth: Pick<LinkingOAuth, "revokeGrantsOfLink">;
  ledger: Pick<LinkingLedger, "withdraw">;
  clock: Clock;
  /** Runs a queued job right away; a failure leaves it to the runner's retries. */
  runJob?: (id: string) => Promise<unknown>;
}

export interface UnlinkOptions {
  actor: LedgerActor;
  reason: string;
  /** false when Messenger started the unlink (its webhook): no Graph call. */
  notifyMessenger: boolean;
}

/**
 * Unlinking, from any side, ends the same way: the link's grants revoked, a ledger `withdrawn`
 * entry with its actor, the link unlinked, and Messenger told unless it started it. Every step
 * is idempotent, so a repeated or concurrent unlink finishes what an interrupted one began.
 */
export function createLinksService(deps: LinksServiceDeps) {
  const { links, jobs, oauth, ledger, clock } = deps;
  return {
    async unlink(linkId: string, options: UnlinkOptions): Promise<{ status: "unlinked" | "already_unlinked" | "not_found" }> {
      const link = await links.find(linkId);
      if (!link) return { status: "not_found" };
      await oauth.revokeGrantsOfLink(link.id, options.reason);
      if (link.consentId) await ledger.withdraw({ consentId: link.consentId, actor: options.actor, reason: options.reason });
      const changed = await links.markUnlinked(link.id, options.actor, clock.now());
      if (!changed) return { status: "already_unlinked" };
      if (options.notifyMessenger) {
        const job = await jobs.enqueue(GRAPH_UNLINK_JOB, { clientId: link.clientId, psid: link.psid, linkId: link.id }, clock.now());
        await deps.runJob?.(job.id).catch(() => {});
      }
      return { status: "unlinked" };
    },
  };
}

export type LinksService = ReturnType<typeof createLinksService>;

/** The job that tells Messenger about an unlink started by the bank, the ledger or the console. */
export function graphUnlinkHandler(deps: { clients: ClientLookup; sealer: Sealer; graph: GraphClient }) {
  return async (job: { payload: unknown }) => {
    const { clientId, psid } = job.payload as { clientId: string; psid: string };
    const client = await deps.clients.findById(clientId);
    const messenger = client && messengerSettings(client, deps.sealer);
    if (!messenger) return; // nothing to tell: the client no longer has a Messenger page
    await deps.graph.unlinkAccount(psid, messenger.pageAccessToken);
  };
}

