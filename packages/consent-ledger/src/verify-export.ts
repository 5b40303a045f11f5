// Verifies a JSONL export with the published ledger keys alone: no broker, no database. The same
// checks as `verify` on the database (ledger-audit.ts), run over the export's lines.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { checkpointFromLine } from "./checkpoint-file.ts";
import { ChainAudit, type CheckpointRecord, type ProjectedConsent, ProjectionCheck, type VerifyResult } from "./ledger-audit.ts";
import { invalidRequest } from "./ledger-errors.ts";
import type { LedgerKeySet } from "./ledger-keys.ts";
import type { ChainEntry } from "./hash-chain.ts";

/** A date as the export writes it (ISO 8601 UTC with milliseconds); anything else is an invalid date. */
function isoDate(v: unknown): Date {
  const d = new Date(v as string);
  return !Number.isNaN(d.getTime()) && d.toISOString() === v ? d : new Date(Number.NaN);
}

function entryFromLine(o: Record<string, unknown>): ChainEntry {
  return {
    // Hashed as it is in the line: anything but a decimal string fails the walk.
    seq: typeof o.seq === "string" ? o.seq : "not-a-seq",
    consentId: o.consent_id as string,
    action: o.action as string,
    clientId: o.client_id as string,
    subject: o.subject as string,
    linkId: (o.link_id ?? null) as string | null,
    psid: (o.psid ?? null) as string | null,
    scopes: (o.scopes ?? []) as string[],
    purposes: (o.purposes ?? []) as string[],
    // Present only on format 2 lines; a line without it hashes without it.
    ...("pairs" in o ? { pairs: o.pairs } : {}),
    expiresAt: isoDate(o.expires_at),
    actor: o.actor as string,
    evidence: o.evidence ?? {},
    recordedAt: isoDate(o.recorded_at),
    prevHash: o.prev_hash as string,
    hash: o.hash as string,
  };
}

function consentFromLine(o: Record<string, unknown>): ProjectedConsent {
  return {
    id: String(o.id),
    clientId: o.client_id as string,
    subject: o.subject as string,
    linkId: (o.link_id ?? null) as string | null,
    psid: (o.psid ?? null) as string | null,
    status: o.status as string,
    scopes: (o.scopes ?? []) as string[],
    purposes: (o.purposes ?? []) as string[],
    pairs: o.pairs,
    expiresAt: isoDate(o.expires_at),
    grantedAt: isoDate(o.granted_at),
    updatedAt: isoDate(o.updated_at),
    lastSeq: String(o.last_seq),
  };
}

/** Verifies an export's lines (entries, checkpoints, consents) plus any anchored checkpoints. */
export async function verifyExportLines(lines: AsyncIterable<string> | Iterable<string>, keys: LedgerKeySet, anchored: CheckpointRecord[] = []): Promise<VerifyResult> {
  // Checkpoints and consent rows are needed before (checkpoints) or after (consents) the walk; the
  // entries are walked as they come.
  const entries: Record<string, unknown>[] = [];
  const checkpoints: CheckpointRecord[] = [...anchored];
  const rows: ProjectedConsent[] = [];
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(line);
    } catch {
      throw invalidRequest(`export line ${n} is not JSON`);
    }
    if (!o || typeof o !== "object") throw invalidRequest(`export line ${n} is not a JSON object`);
    const cp = checkpointFromLine(o);
    if (cp) checkpoints.push(cp);
    else if (o.type === "consent") rows.push(consentFromLine(o));
    else entries.push(o);
  }
  const audit = new ChainAudit(keys, checkpoints, { trackConsents: true });
  for (const e of entries) if (!audit.push(entryFromLine(e))) return audit.result();
  if (!audit.end()) return audit.result();
  // A ranged export carries no consent rows; then there is no projection to check.
  if (rows.length > 0) {
    const check = new ProjectionCheck();
    const replayed = audit.consents!;
    const seen = new Set<string>();
    for (const row of rows) {
      seen.add(row.id);
      check.compare(row, replayed.get(row.id));
    }
    for (const [id, c] of replayed) if (!seen.has(id)) check.compare(undefined, c);
    audit.projectionFailed(check);
  }
  return audit.result();
}

// Read as bytes: readline decodes UTF-8 itself, also where a character spans two chunks.
export function verifyExportFile(path: string, keys: LedgerKeySet, anchored: CheckpointRecord[] = []): Promise<VerifyResult> {
  return verifyExportLines(createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY }), keys, anchored);
}
