// Streamed export of the ledger: read in batches from one snapshot, so memory stays bounded
// whatever the size of the ledger and the lines agree with each other while appends go on.
//
// JSONL (LEDGER-FORMAT.md "Export"): every entry in seq order, each signed checkpoint right after
// the entry it signs (`"type":"checkpoint"`), then every consent projection row
// (`"type":"consent"`): all an auditor needs, with /ledger/keys.json, to verify it. A ranged
// export (from/to) holds entries only. CSV holds entries only, for spreadsheets.
import { once } from "node:events";
import { PassThrough, type Readable } from "node:stream";
import type { Consent, LedgerCheckpoint, Tx } from "@link-broker/db";
import type { LedgerStore } from "./ledger-store.ts";
import { entryToWire, toEntryRecord } from "./records.ts";

export type ExportFormat = "jsonl" | "csv";
export const CSV_COLUMNS = ["seq", "consent_id", "action", "client_id", "subject", "link_id", "psid", "scopes", "purposes", "pairs", "expires_at", "actor", "evidence", "recorded_at", "prev_hash", "hash"] as const;
const BATCH = 1_000;

/**
 * A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"):
 * such values get a leading `'`, which spreadsheets show as text.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** RFC 4180: every field quoted, quotes doubled. Lists are space-separated, evidence is JSON. */
export function csvField(v: unknown): string {
  let s = v === null || v === undefined ? "" : Array.isArray(v) ? v.join(" ") : typeof v === "object" ? JSON.stringify(v) : String(v);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export function checkpointToWire(c: Pick<LedgerCheckpoint, "seq" | "headHash" | "kid" | "jws">) {
  return { type: "checkpoint" as const, seq: c.seq.toString(), head_hash: c.headHash, kid: c.kid, jws: c.jws };
}

/** A projection row as recorded (its stored status, not the effective one). */
export function projectionToWire(c: Consent) {
  return {
    type: "consent" as const,
    id: c.id,
    client_id: c.clientId,
    subject: c.subject,
    link_id: c.linkId,
    psid: c.psid,
    status: c.status,
    scopes: c.scopes,
    purposes: c.purposes,
    pairs: c.pairs,
    expires_at: c.expiresAt.toISOString(),
    granted_at: c.grantedAt.toISOString(),
    updated_at: c.updatedAt.toISOString(),
    last_seq: c.lastSeq.toString(),
  };
}

type ExportStore = Pick<LedgerStore, "entriesAfter" | "snapshot" | "checkpoints" | "consentsAfter">;

async function* lines(store: ExportStore, tx: Tx, options: { format: ExportFormat; from?: Date; to?: Date }) {
  const { format } = options;
  const full = format === "jsonl" && !options.from && !options.to;
  const checkpoints = full ? await store.checkpoints(tx) : [];
  let next = 0;
  if (format === "csv") yield `${CSV_COLUMNS.join(",")}\r\n`;
  let after = -1n;
  for (;;) {
    const batch = await store.entriesAfter(after, BATCH, { from: options.from, to: options.to }, tx);
    let chunk = "";
    for (const e of batch) {
      const r = toEntryRecord(e);
      const w = entryToWire(r);
      if (format === "csv") {
        // Pairs as `scope/purpose`, space-separated (derived for format 1 entries, as the API shows them).
        const row = { ...w, pairs: r.pairs.map((p) => `${p.scope}/${p.purpose}`) };
        chunk += `${CSV_COLUMNS.map((c) => csvField(row[c])).join(",")}\r\n`;
        continue;
      }
      // A merge by seq: the checkpoints before this entry go out first, so each follows the entry it
      // signs (and one of a seq the export has no entry for, which cannot exist, still goes out in order).
      for (; next < checkpoints.length && checkpoints[next]!.seq < e.seq; next++) chunk += `${JSON.stringify(checkpointToWire(checkpoints[next]!))}\n`;
      chunk += `${JSON.stringify(w)}\n`;
    }
    if (chunk) yield chunk;
    if (batch.length < BATCH) break;
    after = batch[batch.length - 1]!.seq;
  }
  if (!full) return;
  let rest = "";
  for (; next < checkpoints.length; next++) rest += `${JSON.stringify(checkpointToWire(checkpoints[next]!))}\n`;
  if (rest) yield rest;
  let afterId: string | null = null;
  for (;;) {
    const rows = await store.consentsAfter(tx, afterId, BATCH);
    if (rows.length > 0) yield rows.map((c) => `${JSON.stringify(projectionToWire(c))}\n`).join("");
    if (rows.length < BATCH) return;
    afterId = rows[rows.length - 1]!.id;
  }
}

export function exportLedger(store: ExportStore, options: { format: ExportFormat; from?: Date; to?: Date }): Readable {
  const out = new PassThrough();
  store
    .snapshot(async (tx) => {
      for await (const chunk of lines(store, tx, options)) {
        if (out.destroyed) return;
        // Backpressure: wait for the reader, and give up (ending the snapshot) if it goes away.
        if (!out.write(chunk)) await Promise.race([once(out, "drain"), once(out, "close")]);
      }
      out.end();
    })
    .catch((err: unknown) => out.destroy(err as Error));
  return out;
}
