import type { BrokerContext } from "../../broker-context.ts";
import { createKeyStore } from "./key-store.ts";
import { createKeysRepo } from "./keys-repo.ts";

/**
 * The broker's signing keys, built first: OAuth signs access tokens with them and the ledger
 * signs receipts and checkpoints (`signer`); `GET /jwks.json` (OAuth routes) publishes them.
 */
export function createKeysModule(deps: Pick<BrokerContext, "db" | "sealer" | "clock">) {
  const keyStore = createKeyStore({ repo: createKeysRepo(deps.db), sealer: deps.sealer, clock: deps.clock });
  return {
    keyStore,
    /** Contract: compact ES256 JWS with the active kid (consent receipts, ledger checkpoints). */
    signer: keyStore.signer,
  };
}
