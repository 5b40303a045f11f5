import type { Tx } from "@link-broker/db";
import type { Clock } from "../clock.ts";
import type { Sealer } from "../crypto/seal.ts";
import { messengerSettings } from "../linking/client-secrets.ts";
import type { GraphClient } from "../linking/graph-client.ts";
import type { ClientLookup, LedgerActor, LinkingLedger, LinkingOAuth } from "../linking/linking-deps.ts";
import type { JobRepo } from "./job-repo.ts";
import type { LinksRepo } from "./links-repo.ts";

export const GRAPH_UNLINK_JOB = "messenger.unlink";

export interface LinksServiceDeps {
  links: Pick<LinksRepo, "find" | "markUnlinked" | "activeWithEndedConsent">;
  jobs: Pick<JobRepo, "enqueue">;
  oauth: Pick<LinkingOAuth, "revokeGrantsOfLink">;
  ledger: Pick<LinkingLedger, "withdraw" | "endOf">;
  clock: Clock;
  /** Runs a queued job right away; a failure leaves it to the runner's retries. */
  runJob?: (id: string) => Promise<unknown>;
}

export interface UnlinkOptions {
  actor: LedgerActor;
  reason: string;
  /** false when Messenger started the unlink (its webhook): no Graph call. */
  notifyMessenger: boolean;
  /** Only while the link still holds this consent (the reconciler: a re-link may have replaced it). */
  consentId?: string;
}

/** Links reconciled per pass; the next tick takes the rest. */
const RECONCILE_BATCH = 100;

/**
 * Unlinking, from any side, ends the same way: the link's grants revoked, a ledger `withdrawn`
 * entry with its actor, the link unlinked, and Messenger told unless it started it. Every step
 * is idempotent, so a repeated or concurrent unlink finishes what an interrupted one began.
 */
export function createLinksService(deps: LinksServiceDeps) {
  const { links, jobs, oauth, ledger, clock } = deps;

  async function unlink(linkId: string, options: UnlinkOptions): Promise<{ status: "unlinked" | "already_unlinked" | "not_found" }> {
    const link = await links.find(linkId);
    if (!link) return { status: "not_found" };
    if (options.consentId !== undefined && link.consentId !== options.consentId) return { status: "already_unlinked" };
    // Withdraw first, then revoke: a code exchanged meanwhile either has its grant revoked here or
    // sees the withdrawal (the token endpoint checks the consent after writing the grant).
    // A no-op when the consent already ended (withdrawn elsewhere, or expired): no second entry.
    if (link.consentId) await ledger.withdraw({ consentId: link.consentId, actor: options.actor, reason: options.reason });
    await oauth.revokeGrantsOfLink(link.id, options.reason);
    // The Graph job is enqueued in the unlink's own transaction: an unlink is never recorded
    // without the job that tells Messenger, whatever stops the process in between.
    const now = clock.now();
    const payload = { clientId: link.clientId, psid: link.psid, linkId: link.id };
    const enqueue = options.notifyMessenger ? (tx: Tx) => jobs.enqueue(GRAPH_UNLINK_JOB, payload, now, tx) : undefined;
    const { changed, also: job } = await links.markUnlinked(link.id, options.actor, now, options.consentId, enqueue);
    if (!changed) return { status: "already_unlinked" };
    if (job) await deps.runJob?.(job.id).catch(() => {});
    return { status: "unlinked" };
  }

  return {
    unlink,

    /**
     * A consent can end outside any unlink: withdrawn in the ledger by compliance or another
     * service, or expired. Tokens end at once (refresh and introspection re-check the ledger);
     * this ends the link the same way an unlink does (grants revoked, link unlinked by the actor
     * who withdrew, Messenger told), without a second `withdrawn` entry. Runs on the job runner's
     * tick; idempotent and safe in several processes at once.
     */
    async reconcileEndedConsents(): Promise<number> {
      let unlinked = 0;
      for (const { id, consentId } of await links.activeWithEndedConsent(clock.now(), RECONCILE_BATCH)) {
        const end = await ledger.endOf(consentId);
        if (!end) continue;
        const reason = end.state === "withdrawn" ? "consent withdrawn in the ledger" : "consent expired";
        const result = await unlink(id, { actor: end.actor, reason, notifyMessenger: true, consentId });
        if (result.status === "unlinked") unlinked++;
      }
      return unlinked;
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

