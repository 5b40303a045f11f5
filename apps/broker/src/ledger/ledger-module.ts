// The broker's consent ledger: built once per app with its own signing keys (never the
// access-token keys); its periodic work runs on the broker's scheduler; its routes take their
// authorization as options.
import { createHmac } from "node:crypto";
import { createConsentLedger, type ConsentLedger, type LedgerKeys } from "@link-broker/consent-ledger";
import type { FastifyPluginAsync, preHandlerHookHandler } from "fastify";
import type { BrokerContext } from "../broker-context.ts";
import { ledgerAuth, type StaffOfRequest } from "./ledger-auth.ts";
import { createLedgerKeyRing } from "./ledger-key-ring.ts";
import { createLedgerKeysRepo } from "./ledger-keys-repo.ts";
import { ledgerRoutes } from "./ledger-routes.ts";
import { receiptPageRoutes, receiptPageUrl, receiptTokenKey } from "./receipt-page-routes.ts";

/** How often lapsed consents get their `expired` entry. */
export const SWEEP_INTERVAL_MS = 60_000;
/** How often the broker signs the ledger's head (a no-op while the head has not moved). */
export const CHECKPOINT_INTERVAL_MS = 10 * 60_000;

export interface LedgerRoutesAuth {
  /** The OAuth module's bearer check: a broker access token carrying the scope. */
  requireScope(scope: "ledger:check" | "ledger:audit"): preHandlerHookHandler;
  /** The console module's staff session check: compliance staff read every bank's consents. */
  staffOf: StaffOfRequest;
}

/** The ledger's signing keys, sealed in the broker's database (the CLI builds them the same way). */
export function createBrokerLedgerKeys(deps: Pick<BrokerContext, "db" | "sealer" | "clock">, options: { cacheMs?: number } = {}) {
  return createLedgerKeyRing({ repo: createLedgerKeysRepo(deps.db), sealer: deps.sealer, clock: deps.clock, ...options });
}

/** The consent ledger as the broker configures it (the CLI builds one the same way). */
export function createBrokerLedger(deps: Pick<BrokerContext, "config" | "db" | "clock"> & { keys: LedgerKeys }): ConsentLedger {
  const { config } = deps;
  return createConsentLedger({
    db: deps.db,
    keys: deps.keys,
    clock: deps.clock,
    // Receipt subjects are HMAC pseudonyms under a key derived from the master key.
    subjectKey: createHmac("sha256", config.masterKey.key).update("ledger-receipt-subject").digest(),
    issuer: config.publicUrl,
    receipts: { jurisdiction: config.ledgerJurisdiction, pageUrl: (consentId) => receiptPageUrl(config, consentId) },
    checkpointFile: config.ledgerCheckpointFile,
  });
}

export function createLedgerModule(deps: Pick<BrokerContext, "config" | "db" | "clock" | "scheduler" | "sealer"> & { keys?: LedgerKeys }) {
  const { config, scheduler } = deps;
  const ledger = createBrokerLedger({ ...deps, keys: deps.keys ?? createBrokerLedgerKeys(deps) });
  scheduler.every("ledger.sweep-expired", SWEEP_INTERVAL_MS, () => ledger.sweepExpired());
  // A signed checkpoint lets auditors prove history was not rewritten.
  scheduler.every("ledger.checkpoint", CHECKPOINT_INTERVAL_MS, () => ledger.checkpoint());

  const routes: FastifyPluginAsync<LedgerRoutesAuth> = async (app, { requireScope, staffOf }) => {
    await app.register(ledgerRoutes, {
      ledger,
      checkAuth: ledgerAuth(requireScope("ledger:check")),
      auditAuth: ledgerAuth(requireScope("ledger:audit"), staffOf),
      receiptUrl: (consentId) => receiptPageUrl(config, consentId),
      checkpointFile: config.ledgerCheckpointFile,
    });
    await app.register(receiptPageRoutes, { ledger, tokenKey: receiptTokenKey(config) });
  };
  return { ledger, routes };
}
