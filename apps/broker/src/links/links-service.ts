import type { Tx } from "@link-broker/db";
import type { Clock } from "../clock.ts";
import type { LedgerPort, OAuthPort, UnlinkOptions, UnlinkResult } from "../contracts.ts";
import { GRAPH_UNLINK_JOB, type GraphUnlinkPayload } from "../messenger/unlink-job.ts";
import type { JobRepo } from "./job-repo.ts";
import type { LinksRepo } from "./links-repo.ts";

export interface LinksServiceDeps {
  links: Pick<LinksRepo, "find" | "markUnlinked" | "activeWithConsent">;
  jobs: Pick<JobRepo, "enqueue">;
  oauth: Pick<OAuthPort, "revokeGrantsOfLink">;
  ledger: Pick<LedgerPort, "withdraw" | "endOf" | "inactiveAmong">;
  clock: Clock;
  /** Runs a queued job right away; a failure leaves it to the runner's retries. */
  runJob?: (id: string) => Promise<unknown>;
}

/** Active links whose consents are asked about per ledger query. */
const RECONCILE_PAGE = 500;

/**
 * Unlinking, from any side, ends the same way: the link's grants revoked, a ledger `withdrawn`
 * entry with its actor, the link unlinked, and Messenger told unless it started it. Every step
 * is idempotent, so a repeated or concurrent unlink finishes what an interrupted one began.
 */
export function createLinksService(deps: LinksServiceDeps) {
  const { links, jobs, oauth, ledger, clock } = deps;

  async function unlink(linkId: string, options: UnlinkOptions): Promise<UnlinkResult> {
    const link = await links.find(linkId);
    if (!link) return { status: "not_found" };
    if (options.consentId !== undefined && link.consentId !== options.consentId) return { status: "already_unlinked" };
    // Withdraw first, then revoke: a code exchanged meanwhile either has its grant revoked here or
    // sees the withdrawal (the token endpoint checks the consent after writing the grant).
    // A no-op when the consent already ended (withdrawn elsewhere, or expired): no second entry.
    if (link.consentId) await ledger.withdraw({ consentId: link.consentId, actor: options.actor, reason: options.reason, ...(options.evidence ? { evidence: options.evidence } : {}) });
    await oauth.revokeGrantsOfLink(link.id, options.reason);
    // The Graph job is enqueued in the unlink's own transaction: an unlink is never recorded
    // without the job that tells Messenger, whatever stops the process in between.
    const now = clock.now();
    const payload: GraphUnlinkPayload = { clientId: link.clientId, psid: link.psid, linkId: link.id };
    const enqueue = options.notifyMessenger ? (tx: Tx) => jobs.enqueue(GRAPH_UNLINK_JOB, { ...payload }, now, tx) : undefined;
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
     * who withdrew, Messenger told), without a second `withdrawn` entry. Pages through the
     * active links and asks the ledger (its API, not its tables) which of their consents ended.
     * Runs on the scheduler; idempotent and safe in several processes at once.
     */
    async reconcileEndedConsents(): Promise<number> {
      let unlinked = 0;
      let after: string | undefined;
      for (;;) {
        const page = await links.activeWithConsent(after, RECONCILE_PAGE);
        const ended = new Set(page.length > 0 ? await ledger.inactiveAmong(page.map((l) => l.consentId)) : []);
        for (const { id, consentId } of page) {
          if (!ended.has(consentId)) continue;
          const end = await ledger.endOf(consentId);
          if (!end) continue;
          const reason = end.state === "withdrawn" ? "consent withdrawn in the ledger" : "consent expired";
          const result = await unlink(id, { actor: end.actor, reason, notifyMessenger: true, consentId });
          if (result.status === "unlinked") unlinked++;
        }
        if (page.length < RECONCILE_PAGE) return unlinked;
        after = page[page.length - 1]!.id;
      }
    },
  };
}

export type LinksService = ReturnType<typeof createLinksService>;
