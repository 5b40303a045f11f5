import type { Clock } from "../clock.ts";
import type { Sealer } from "../crypto/seal.ts";
import type { ClientLookup } from "../contracts.ts";
import type { LinksRepo } from "../links/links-repo.ts";
import type { GraphClient } from "../messenger/graph-client.ts";
import { messengerSettings } from "../messenger/messenger-secrets.ts";
import type { TotpRepo } from "./totp-repo.ts";

export interface ResetSecondFactorInput {
  clientId: string;
  /** The bank customer (`sub` at the bank's identity provider). */
  subject: string;
  /** Who asked for it (a staff id); returned for the staff audit log, never shown to the customer. */
  actor: string;
  reason: string;
}

export interface ResetSecondFactorResult {
  /** false when the customer had no factor (nothing changed, nobody told). */
  reset: boolean;
  /** Messenger accounts linked to the customer at this bank that were told in the chat. */
  notified: number;
  /** Linked accounts the message could not reach (Graph refused or was down). */
  notNotified: number;
  at: Date;
  actor: string;
  reason: string;
}

/**
 * Staff reset of a customer's second factor, for a lost phone with no recovery code left: the
 * factor and its recovery codes go, and the next link enrols a new authenticator after the bank
 * sign-in. Every Messenger account the customer linked at that bank is told in the chat, so a
 * reset the customer did not ask for does not go unnoticed. The caller (the staff console or CLI)
 * records the result in the staff audit log.
 */
export function createResetSecondFactor(deps: {
  totp: Pick<TotpRepo, "remove">;
  links: Pick<LinksRepo, "activeBySubject">;
  clients: ClientLookup;
  sealer: Sealer;
  graph: Pick<GraphClient, "sendAccountUpdate">;
  clock: Clock;
  /** Told when a chat message could not be sent (it is not retried: the reset stands). */
  onNotifyError?: (error: Error) => void;
}) {
  return async function resetSecondFactor(input: ResetSecondFactorInput): Promise<ResetSecondFactorResult> {
    const at = deps.clock.now();
    const removed = await deps.totp.remove(input.clientId, input.subject);
    const result = { reset: removed !== null, notified: 0, notNotified: 0, at, actor: input.actor, reason: input.reason };
    if (!removed) return result;
    const client = await deps.clients.get(input.clientId);
    const messenger = client ? messengerSettings(client, deps.sealer) : undefined;
    const links = await deps.links.activeBySubject(input.clientId, input.subject);
    if (!client || !messenger) {
      result.notNotified = links.length;
      return result;
    }
    const text = `Your ${client.name} security code for linking Messenger was reset by ${client.name}. Next time you link, you will set up your authenticator app again. If you did not ask for this, contact ${client.name} now.`;
    for (const link of links) {
      try {
        await deps.graph.sendAccountUpdate(link.psid, text, messenger.pageAccessToken);
        result.notified++;
      } catch (err) {
        result.notNotified++;
        deps.onNotifyError?.(err as Error);
      }
    }
    return result;
  };
}
