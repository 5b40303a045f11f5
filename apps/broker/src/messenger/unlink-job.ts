import type { Sealer } from "../crypto/seal.ts";
import type { ClientLookup } from "../contracts.ts";
import type { GraphClient } from "./graph-client.ts";
import { messengerSettings } from "./messenger-secrets.ts";

/** The durable job that tells Messenger about an unlink started by the bank, the ledger or the console. */
export const GRAPH_UNLINK_JOB = "messenger.unlink";

export interface GraphUnlinkPayload {
  clientId: string;
  psid: string;
  linkId: string;
}

/** Runs a GRAPH_UNLINK_JOB: `POST {graph}/me/unlink_accounts` with the client's page token. */
export function graphUnlinkHandler(deps: { clients: ClientLookup; sealer: Sealer; graph: GraphClient }) {
  return async (job: { payload: unknown }) => {
    const { clientId, psid } = job.payload as GraphUnlinkPayload;
    const client = await deps.clients.get(clientId);
    const messenger = client && messengerSettings(client, deps.sealer);
    if (!messenger) return; // nothing to tell: the client no longer has a Messenger page
    await deps.graph.unlinkAccount(psid, messenger.pageAccessToken);
  };
}
