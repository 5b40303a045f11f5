// Streamed export of the ledger: entries are read in seq order, one batch at a time, so memory
// stays bounded whatever the size of the ledger.
import { Readable } from "node:stream";
import type { LedgerStore } from "./ledger-store.ts";
import { entryToWire, toEntryRecord } from "./records.ts";

export type ExportFormat = "jsonl" | "csv";
export const CSV_COLUMNS = ["seq", "consent_id", "action", "client_id", "subject", "link_id", "psid", "scopes", "purposes", "expires_at", "actor", "evidence", "recorded_at", "prev_hash", "hash"] as const;
const BATCH = 1_000;

/** RFC 4180: every field quoted, quotes doubled. Lists are space-separated, evidence is JSON. */
function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : Array.isArray(v) ? v.join(" ") : typeof v === "object" ? JSON.stringify(v) : String(v);
  return `"${s.replace(/"/g, '""')}"`;
}

export function exportLedger(store: Pick<LedgerStore, "entriesAfter">, options: { format: ExportFormat; from?: Date; to?: Date }): Readable {
  const { format } = options;
  async function* lines() {
    if (format === "csv") yield `${CSV_COLUMNS.join(",")}\r\n`;
    let after = -1n;
    for (;;) {
      const batch = await store.entriesAfter(after, BATCH, { from: options.from, to: options.to });
      if (batch.length === 0) return;
      let chunk = "";
      for (const e of batch) {
        const w = entryToWire(toEntryRecord(e));
        chunk += format === "jsonl" ? `${JSON.stringify(w)}\n` : `${CSV_COLUMNS.map((c) => csvField(w[c])).join(",")}\r\n`;
      }
      yield chunk;
      after = batch[batch.length - 1]!.seq;
      if (batch.length < BATCH) return;
    }
  }
  return Readable.from(lines(), { objectMode: false });
}
