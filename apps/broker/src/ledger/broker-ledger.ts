// The broker's consent ledger: built once per app, swept periodically, closed with the app.
import { createHmac } from "node:crypto";
import { createConsentLedger, type ConsentLedger, type LedgerSigner } from "@link-broker/consent-ledger";
import type { Db } from "@link-broker/db";
import type { FastifyInstance } from "fastify";
import type { Clock } from "../clock.ts";
import type { Config } from "../config.ts";
import { ledgerAuth, type StaffOfRequest } from "./ledger-auth.ts";
import { ledgerRoutes } from "./ledger-routes.ts";

export const SWEEP_INTERVAL_MS = 60_000;
/** How often the broker signs the ledger's head (a no-op while the head has not moved). */
export const CHECKPOINT_INTERVAL_MS = 10 * 60_000;

/** Records a signed checkpoint every `intervalMs`, so auditors can prove history was not rewritten. */
export function scheduleCheckpoints(ledger: Pick<ConsentLedger, "checkpoint">, intervalMs: number, onError: (err: unknown) => void): () => void {
  const timer = setInterval(() => {
    ledger.checkpoint().catch(onError);
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

export async function createBrokerLedger(deps: { config: Config; db: Db; clock: Clock; signer: LedgerSigner }): Promise<ConsentLedger> {
  return createConsentLedger({
    db: deps.db,
    signer: deps.signer,
    clock: deps.clock,
    // Receipt subjects are HMAC pseudonyms under a key derived from the master key.
    subjectKey: createHmac("sha256", deps.config.masterKey.key).update("ledger-receipt-subject").digest(),
    issuer: deps.config.publicUrl,
  });
}

/** Routes, sweeper and shutdown of the ledger inside the app. Staff read through their console session. */
export async function registerLedger(app: FastifyInstance, ledger: ConsentLedger, staffOf: StaffOfRequest) {
  await app.register(ledgerRoutes, { ledger, checkAuth: ledgerAuth("ledger:check"), auditAuth: ledgerAuth("ledger:audit", staffOf) });
  const stopSweeper = ledger.startSweeper({ intervalMs: SWEEP_INTERVAL_MS, onError: (err) => app.log.error({ err }, "ledger sweep failed") });
  const stopCheckpoints = scheduleCheckpoints(ledger, CHECKPOINT_INTERVAL_MS, (err) => app.log.error({ err }, "ledger checkpoint failed"));
  app.addHook("onClose", async () => {
    stopSweeper();
    stopCheckpoints();
    await ledger.close();
  });
}
