// Step 4: ask the ledger before every read or push; refresh when the access token runs out.
import type { BrokerClient, Tokens } from "@link-broker/client";

export async function mayReadBalance(broker: BrokerClient, psid: string): Promise<boolean> {
  const check = await broker.checkConsent({ client_id: broker.clientId, psid, scope: "balance:read", purpose: "account_servicing" });
  // Only `active` allows; `withdrawn`, `expired` and `no_consent` mean: offer to link again.
  return check.allowed;
}

export async function freshTokens(broker: BrokerClient, tokens: Tokens): Promise<Tokens> {
  // DPoP-bound refresh tokens are not rotated; others are, so always keep the answer.
  const next = await broker.refresh(tokens.refresh_token!);
  return { ...next, refresh_token: next.refresh_token ?? tokens.refresh_token };
}
