import { SEALED_COLUMNS, type SealedColumn } from "./sealed-columns.ts";
import type { Sealer } from "../crypto/seal.ts";
import type { SealedValuesRepo } from "./sealed-values-repo.ts";

export type MasterKeyStatus =
  | { ok: true }
  /** `foundKid`: the key id the value names (undefined when the value is not an envelope). */
  | { ok: false; column: string; foundKid: string | undefined; reason: "unknown_key" | "not_authentic" };

/** The key id named by a sealed envelope (`v1.<kid>.…`), if it is one. */
export function kidOfSealed(envelope: string): string | undefined {
  const parts = envelope.split(".");
  return parts.length === 5 && parts[0] === "v1" ? parts[1] : undefined;
}

/**
 * Opens one sealed value of each kind the database holds. A broker whose master key cannot open
 * them would start and then fail every request that needs one (token signing, linking), so start-up
 * and /readyz ask this first.
 */
export async function checkMasterKey(deps: { repo: Pick<SealedValuesRepo, "sample">; sealer: Sealer; columns?: readonly SealedColumn[] }): Promise<MasterKeyStatus> {
  for (const col of deps.columns ?? SEALED_COLUMNS) {
    const row = await deps.repo.sample(col);
    if (!row) continue;
    const foundKid = kidOfSealed(row.value);
    try {
      deps.sealer.unseal(row.value, col.context(row.id));
    } catch {
      const known = foundKid !== undefined && deps.sealer.kids.includes(foundKid);
      return { ok: false, column: col.name, foundKid, reason: known ? "not_authentic" : "unknown_key" };
    }
  }
  return { ok: true };
}

/** The one line an operator reads when the broker refuses to start. */
export function describeMasterKeyProblem(status: Exclude<MasterKeyStatus, { ok: true }>, currentKid: string): string {
  if (status.reason === "unknown_key") {
    return (
      `BROKER_MASTER_KEY: does not open the sealed values in the database (${status.column} is sealed under key id ${status.foundKid ?? "?"}; ` +
      `this key's id is ${currentKid}). Start with the key whose id is ${status.foundKid ?? "?"}, or list it in BROKER_MASTER_KEY_PREVIOUS while rotating`
    );
  }
  return `BROKER_MASTER_KEY: a value in ${status.column} sealed under key id ${status.foundKid ?? "?"} fails authentication (the key id matches, the data does not): restore it from a backup`;
}
