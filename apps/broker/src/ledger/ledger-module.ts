// The broker's consent ledger: built once per app after the signing keys; its periodic work runs
// on the broker's scheduler; its routes take their authorization as options.
import { createHmac } from "node:crypto";
import { createConsentLedger, type ConsentLedger, type LedgerSigner } from "@link-broker/consent-ledger";
import type { FastifyPluginAsync, preHandlerAsyncHookHandler } from "fastify";
import type { BrokerContext } from "../broker-context.ts";
import { ledgerAuth } from "./ledger-auth.ts";
import { ledgerRoutes } from "./ledger-routes.ts";

/** How often lapsed consents get their `expired` entry. */
export const SWEEP_INTERVAL_MS = 60_000;
/** How often the broker signs the ledger's head (a no-op while the head has not moved). */
export const CHECKPOINT_INTERVAL_MS = 10 * 60_000;

export interface LedgerRoutesAuth {
  /** The OAuth module's bearer check: a broker access token carrying the scope. */
  requireScope(scope: "ledger:check" | "ledger:audit"): preHandlerAsyncHookHandler;
}

/** The consent ledger as the broker configures it (the CLI builds one the same way). */
export function createBrokerLedger(deps: Pick<BrokerContext, "config" | "db" | "clock"> & { signer: LedgerSigner }): ConsentLedger {
  return createConsentLedger({
    db: deps.db,
    signer: deps.signer,
    clock: deps.clock,
    // Receipt subjects are HMAC pseudonyms under a key derived from the master key.
    subjectKey: createHmac("sha256", deps.config.masterKey.key).update("ledger-receipt-subject").digest(),
    issuer: deps.config.publicUrl,
  });
}

export function createLedgerModule(deps: Pick<BrokerContext, "config" | "db" | "clock" | "scheduler"> & { signer: LedgerSigner }) {
  const { config, scheduler } = deps;
  const ledger = createBrokerLedger(deps);
  scheduler.every("ledger.sweep-expired", SWEEP_INTERVAL_MS, () => ledger.sweepExpired());
  // A signed checkpoint lets auditors prove history was not rewritten.
  scheduler.every("ledger.checkpoint", CHECKPOINT_INTERVAL_MS, () => ledger.checkpoint());

  const routes: FastifyPluginAsync<LedgerRoutesAuth> = async (app, { requireScope }) => {
    await app.register(ledgerRoutes, {
      ledger,
      checkAuth: ledgerAuth(requireScope("ledger:check"), config, false),
      auditAuth: ledgerAuth(requireScope("ledger:audit"), config, true),
    });
  };
  return { ledger, routes };
}
