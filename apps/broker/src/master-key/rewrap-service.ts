import { SEALED_COLUMNS, type SealedColumn } from "./sealed-columns.ts";
import type { Sealer } from "../crypto/seal.ts";
import type { SealedValuesRepo } from "./sealed-values-repo.ts";

export interface RewrapCounts {
  column: string;
  /** Re-sealed under the current key by this run. */
  rewrapped: number;
  /** Already under the current key (before or after this run). */
  current: number;
  /** Could not be opened with any configured key: left as they were. */
  failed: number;
}

export interface RewrapOptions {
  repo: Pick<SealedValuesRepo, "notSealedUnder" | "replace" | "countSealedUnder">;
  sealer: Sealer;
  batchSize?: number;
  columns?: readonly SealedColumn[];
  /** Called after every batch, e.g. to print progress. */
  onBatch?: (column: string, rewrapped: number) => void;
}

/**
 * Re-seals every sealed value under the current master key, a batch at a time. Each value is
 * replaced only if it is unchanged since it was read, and each run starts from whatever is not yet
 * under the current key, so an interrupted run is finished by running it again. Once every count
 * of `failed` is 0, the old keys can leave BROKER_MASTER_KEY_PREVIOUS.
 */
export async function rewrapSealedValues(options: RewrapOptions): Promise<RewrapCounts[]> {
  const { repo, sealer, batchSize = 200 } = options;
  const results: RewrapCounts[] = [];
  for (const col of options.columns ?? SEALED_COLUMNS) {
    let rewrapped = 0;
    let failed = 0;
    let afterId = "";
    for (;;) {
      const rows = await repo.notSealedUnder(col, sealer.kid, afterId, batchSize);
      if (rows.length === 0) break;
      for (const row of rows) {
        let plain: string;
        try {
          plain = sealer.unseal(row.value, col.context(row.id));
        } catch {
          failed++;
          continue;
        }
        // A concurrent write (e.g. a new enrolment) already sealed it under the current key.
        if (await repo.replace(col, row.id, row.value, sealer.seal(plain, col.context(row.id)))) rewrapped++;
      }
      afterId = rows[rows.length - 1]!.id;
      options.onBatch?.(col.name, rewrapped);
    }
    results.push({ column: col.name, rewrapped, current: await repo.countSealedUnder(col, sealer.kid), failed });
  }
  return results;
}
