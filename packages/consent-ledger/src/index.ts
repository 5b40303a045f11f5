export {
  createConsentLedger,
  ACTORS,
  type Actor,
  type ConsentLedger,
  type ConsentLedgerOptions,
  type LedgerClock,
  type GrantInput,
  type GrantResult,
  type RenewInput,
  type WithdrawResult,
  type ConsentEnd,
  type CheckOptions,
  type CheckResult,
  type CheckReason,
  type TenantOptions,
  type CheckpointResult,
} from "./consent-ledger.ts";
export { PROBLEMS, type VerifyProblem, type VerifyResult, type CheckpointRecord } from "./ledger-audit.ts";
export { CHECKPOINT_TYP, verifyLedgerJws, signLedgerJws, publishKeys, type LedgerKeys, type LedgerKeySet, type LedgerPublicKey, type LedgerSigner } from "./ledger-keys.ts";
export { readCheckpointFile } from "./checkpoint-file.ts";
export { verifyExportFile, verifyExportLines } from "./verify-export.ts";
export { LedgerError, type LedgerErrorCode } from "./ledger-errors.ts";
export { effectiveState, transition, type ConsentState } from "./consent-state.ts";
export { canonicalJson, entryHash, hashedFields, GENESIS_HASH } from "./hash-chain.ts";
export {
  CUSTOMER_SCOPES,
  PURPOSES,
  FORBIDDEN_PURPOSES,
  DEFAULT_PURPOSE,
  MAX_DURATION_DAYS,
  DEFAULT_DURATION_DAYS,
  SCOPE_DESCRIPTIONS,
  PURPOSE_DESCRIPTIONS,
  isScope,
  isPurpose,
  isForbiddenPurpose,
  defaultPurposes,
  SCOPE_PURPOSES,
  legacyPairs,
  pairsFrom,
  hasPair,
  type ScopePurpose,
  type CustomerScope,
  type Purpose,
} from "./policy.ts";
export { pseudonymousSubject, RECEIPT_TYP } from "./receipt.ts";
export { CSV_COLUMNS, type ExportFormat } from "./export.ts";
export { entryToWire, consentToWire, type ConsentRecord, type EntryRecord, type WireEntry } from "./records.ts";
export { INVALIDATION_CHANNEL, CHAIN_LOCK_KEY, type LookupKey, type ConsentFilters } from "./ledger-store.ts";
export { HEARTBEAT_MS, STALE_MS } from "./check-cache.ts";
