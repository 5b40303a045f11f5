// What the bank bot does when the broker tells it of a consent change.
import type { ReceivedEvent } from "./consent-events.ts";
import type { MessengerSend } from "./messenger-send.ts";

export interface ReactionDeps {
  forgetLink(match: { consent_id?: string; link_id?: string; psid?: string }): string[];
  /** A fresh Log In URL (PAR) for this PSID. */
  loginUrl(psid: string): Promise<string>;
  send: MessengerSend;
}

/** The SET's `expires_at` (NumericDate seconds, or an ISO string) as " on YYYY-MM-DD". */
function endDate(value: unknown): string {
  const date = typeof value === "number" ? new Date(value * 1000) : typeof value === "string" ? new Date(value) : undefined;
  return date && !Number.isNaN(date.getTime()) ? ` on ${date.toISOString().slice(0, 10)}` : " soon";
}

export function createConsentReactions(deps: ReactionDeps) {
  return {
    /** Stop at once: the link's tokens are forgotten, so no read or push can use them again. */
    onWithdrawn(event: ReceivedEvent) {
      if (event.consent_id || event.link_id || event.psid) deps.forgetLink({ consent_id: event.consent_id, link_id: event.link_id, psid: event.psid });
    },
    /** Ask the customer to renew before the consent ends: a message with a Log In button. */
    async onExpiring(event: ReceivedEvent, detail: Record<string, unknown>) {
      if (!event.psid) return;
      const ends = endDate(detail.expires_at);
      await deps.send(event.psid, {
        text: `Your permission for Sandbox Bank to send you updates here ends${ends}. Renew it to keep getting fraud alerts and balances.`,
        buttons: [{ type: "account_link", url: await deps.loginUrl(event.psid) }],
      });
    },
  };
}
