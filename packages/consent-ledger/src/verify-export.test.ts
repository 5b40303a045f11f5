// Verifying an export with the published keys alone: the lines as the export writes them
// (export.ts) verify, and each way a line can be rewritten, reordered, retyped or dropped is
// named, as `verify` names it on the database.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Consent, LedgerEntry } from "@link-broker/db";
import { afterAll, describe, expect, it } from "vitest";
import { checkpointToWire, projectionToWire } from "./export.ts";
import type { ChainEntry } from "./hash-chain.ts";
import { type CheckpointRecord, type ProjectedConsent, replayEntry } from "./ledger-audit.ts";
import { entryToWire, toEntryRecord } from "./records.ts";
import { buildChain, chainKeys, chainMinute } from "./testing.ts";
import { verifyExportFile, verifyExportLines } from "./verify-export.ts";

const entryLine = (e: ChainEntry): Record<string, unknown> => entryToWire(toEntryRecord(e as unknown as LedgerEntry));
const checkpointLine = (c: CheckpointRecord): Record<string, unknown> => checkpointToWire({ ...c, seq: BigInt(c.seq) });
const consentLine = (c: ProjectedConsent): Record<string, unknown> => projectionToWire(c as unknown as Consent);
const text = (lines: Record<string, unknown>[]) => lines.map((l) => JSON.stringify(l));

/** Two consents, one format 1 (no pairs), one withdrawn; a checkpoint after the second entry and at the head. */
async function honestExport() {
  const { keys, checkpoint } = await chainKeys();
  const legacy = { consentId: "c2", linkId: null, psid: null, pairs: null, scopes: ["alerts:fraud"], purposes: ["fraud_alerts"], evidence: {} };
  const entries = buildChain([{}, legacy, { action: "withdrawn", actor: "bank" }]);
  const cps = [await checkpoint(entries[1]!), await checkpoint(entries[2]!)];
  const replayed = new Map<string, ProjectedConsent>();
  for (const e of entries) replayed.set(e.consentId, replayEntry(replayed.get(e.consentId), e));
  const rows = [...replayed.values()].map(consentLine);
  const lines = [entryLine(entries[0]!), entryLine(entries[1]!), checkpointLine(cps[0]!), entryLine(entries[2]!), checkpointLine(cps[1]!), ...rows];
  return { keys, entries, cps, lines, rows };
}

describe("verifying an export", () => {
  it("an honest export verifies, blank lines and all", async () => {
    const { keys, entries, lines } = await honestExport();
    const withBlanks = ["", ...text(lines).flatMap((l) => [l, "  "])];
    expect(await verifyExportLines(withBlanks, keys)).toEqual({ ok: true, checked: 3, headSeq: "3", headHash: entries[2]!.hash, checkpointsVerified: 2, firstBadSeq: null, problem: null });
  });

  it("a line that is not JSON, or not an object, is refused with its line number", async () => {
    const { keys, lines } = await honestExport();
    const [first, ...rest] = text(lines);
    await expect(verifyExportLines([first!, "", "{not json", ...rest], keys)).rejects.toMatchObject({ code: "invalid_request", message: "export line 3 is not JSON" });
    for (const bad of ["null", "42", '"entry"']) await expect(verifyExportLines([first!, bad], keys)).rejects.toMatchObject({ code: "invalid_request", message: "export line 2 is not a JSON object" });
  });

  it("a date written other than as the export writes it fails its entry's hash, though it names the same instant", async () => {
    const { keys, lines } = await honestExport();
    for (const [field, value] of [
      ["recorded_at", "2026-03-01T10:00:00Z"],
      ["expires_at", "2026-03-02T10:00:00.000+00:00"],
      ["recorded_at", chainMinute(0).getTime()],
    ] as const) {
      const edited = [{ ...lines[0], [field]: value }, ...lines.slice(1)];
      expect(await verifyExportLines(text(edited), keys)).toMatchObject({ ok: false, checked: 1, firstBadSeq: "1", problem: "hash_mismatch" });
    }
  });

  it("a seq written as a number instead of a decimal string fails the walk", async () => {
    const { keys, lines } = await honestExport();
    expect(await verifyExportLines(text([{ ...lines[0], seq: 1 }, ...lines.slice(1)]), keys)).toMatchObject({ ok: false, checked: 1, headSeq: null, problem: "hash_mismatch" });
    expect(await verifyExportLines(text([lines[0]!, { ...lines[1], seq: 2 }, ...lines.slice(2)]), keys)).toMatchObject({ ok: false, headSeq: "1", problem: "broken_link" });
  });

  it("null members may be left out; a value added to a line that had none fails", async () => {
    const { keys, lines } = await honestExport();
    const second = { ...lines[1] };
    for (const k of ["link_id", "psid"]) delete second[k];
    expect(await verifyExportLines(text([lines[0]!, second, ...lines.slice(2)]), keys)).toMatchObject({ ok: true, checked: 3 });
    // Pairs added to a format 1 line: it no longer hashes as the format 1 entry it was.
    const widened = { ...lines[1], pairs: [{ scope: "alerts:fraud", purpose: "fraud_alerts" }] };
    expect(await verifyExportLines(text([lines[0]!, widened, ...lines.slice(2)]), keys)).toMatchObject({ ok: false, firstBadSeq: "2", problem: "hash_mismatch" });
    // Empty evidence may be left out too; other evidence may not.
    const noEvidence = { ...lines[1] };
    delete noEvidence.evidence;
    expect(await verifyExportLines(text([lines[0]!, noEvidence, ...lines.slice(2)]), keys)).toMatchObject({ ok: true });
    const first = { ...lines[0] };
    delete first.evidence;
    expect(await verifyExportLines(text([first, ...lines.slice(1)]), keys)).toMatchObject({ ok: false, firstBadSeq: "1", problem: "hash_mismatch" });
  });

  it("checkpoints are checked wherever their lines sit, and anchored ones beside them", async () => {
    const { keys, entries, cps, lines } = await honestExport();
    const entriesOnly = lines.filter((l) => l.type === undefined);
    expect(await verifyExportLines(text([lines[4]!, lines[2]!, ...entriesOnly, ...lines.slice(5)]), keys)).toMatchObject({ ok: true, checkpointsVerified: 2 });
    // The checkpoint lines stripped by whoever rewrote the export; the anchored copies still count.
    expect(await verifyExportLines(text([...entriesOnly, ...lines.slice(5)]), keys, cps)).toMatchObject({ ok: true, checkpointsVerified: 2 });
    // Entries cut off the end with their checkpoint line: the anchored checkpoint names the missing seq.
    expect(await verifyExportLines(text(entriesOnly.slice(0, 2)), keys, [cps[1]!])).toMatchObject({ ok: false, checked: 2, headSeq: "2", firstBadSeq: "3", problem: "missing_entry" });
    // A rewritten, rehashed last entry: its checkpoint no longer matches.
    const forged = buildChain([{}, { consentId: "c2", linkId: null, psid: null, pairs: null, scopes: ["alerts:fraud"], purposes: ["fraud_alerts"], evidence: {} }, { action: "renewed" }]);
    expect(forged[1]!.hash).toBe(entries[1]!.hash);
    expect(await verifyExportLines(text(forged.map(entryLine)), keys, cps)).toMatchObject({ ok: false, firstBadSeq: "3", problem: "checkpoint_mismatch" });
  });

  it("consent rows are replayed against the chain: an edited, missing or extra row is named", async () => {
    const { keys, lines, rows } = await honestExport();
    const chainLines = lines.slice(0, 5);
    const c1 = rows.find((r) => r.id === "c1")!;
    const c2 = rows.find((r) => r.id === "c2")!;
    // c1 was withdrawn: a row put back to active is what `check` would then answer from.
    expect(await verifyExportLines(text([...chainLines, { ...c1, status: "active" }, c2]), keys)).toMatchObject({ ok: false, checked: 3, headSeq: "3", firstBadSeq: "3", problem: "projection_mismatch", consentId: "c1" });
    expect(await verifyExportLines(text([...chainLines, c1]), keys)).toMatchObject({ ok: false, firstBadSeq: "2", problem: "projection_mismatch", consentId: "c2" });
    expect(await verifyExportLines(text([...chainLines, c1, c2, { ...c2, id: "c3", last_seq: "9" }]), keys)).toMatchObject({ ok: false, firstBadSeq: "9", problem: "projection_mismatch", consentId: "c3" });
    // Numbers where the export writes strings still name the same row.
    expect(await verifyExportLines(text([...chainLines, c1, { ...c2, last_seq: 2 }]), keys)).toMatchObject({ ok: true });
  });

  it("a ranged export (entries only, no rows) has no projection to check", async () => {
    const { keys, lines } = await honestExport();
    expect(await verifyExportLines(text(lines.filter((l) => l.type === undefined)), keys)).toMatchObject({ ok: true, checked: 3, checkpointsVerified: 0 });
  });

  it("a broken chain is reported before any projection mismatch", async () => {
    const { keys, lines, rows } = await honestExport();
    const bad = [{ ...lines[0], actor: "bank" }, ...lines.slice(1, 5), { ...rows[0], status: "active" }, rows[1]!];
    expect(await verifyExportLines(text(bad), keys)).toMatchObject({ ok: false, firstBadSeq: "1", problem: "hash_mismatch" });
    // The last entry and the checkpoint before it dropped: the head checkpoint names the missing seq.
    const cut = [...lines.slice(0, 2), ...lines.slice(4)];
    expect(await verifyExportLines(text(cut), keys)).toMatchObject({ ok: false, checked: 2, firstBadSeq: "3", problem: "missing_entry" });
  });
});

describe("verifying an export file", () => {
  const dir = mkdtempSync(join(tmpdir(), "lb-verify-export-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads the file line by line, LF or CRLF", async () => {
    const { keys, lines } = await honestExport();
    for (const eol of ["\n", "\r\n"]) {
      const file = join(dir, `export-${eol.length}.jsonl`);
      writeFileSync(file, text(lines).join(eol) + eol);
      expect(await verifyExportFile(file, keys)).toMatchObject({ ok: true, checked: 3, checkpointsVerified: 2 });
    }
    const file = join(dir, "edited.jsonl");
    writeFileSync(file, text([lines[0]!, { ...lines[1], subject: "cust-9" }, ...lines.slice(2)]).join("\n"));
    expect(await verifyExportFile(file, keys)).toMatchObject({ ok: false, firstBadSeq: "2", problem: "hash_mismatch" });
  });

  it("decodes UTF-8 wherever the file's chunks split a character", async () => {
    const { keys, checkpoint } = await chainKeys();
    // Lines far longer than one read (64 KiB), of two-, three- and four-byte characters.
    const entries = buildChain([{ evidence: { note: "ü€😀".repeat(20_000) } }, { actor: "bank", evidence: { note: "a😀".repeat(30_000) } }]);
    const file = join(dir, "unicode.jsonl");
    writeFileSync(file, text([...entries.map(entryLine), checkpointLine(await checkpoint(entries[1]!))]).join("\n"));
    expect(await verifyExportFile(file, keys)).toMatchObject({ ok: true, checked: 2, checkpointsVerified: 1 });
  });

  it("takes anchored checkpoints", async () => {
    const { keys, cps, lines } = await honestExport();
    const file = join(dir, "entries.jsonl");
    writeFileSync(file, text(lines.filter((l) => l.type === undefined).slice(0, 2)).join("\n"));
    expect(await verifyExportFile(file, keys, cps)).toMatchObject({ ok: false, problem: "missing_entry", firstBadSeq: "3" });
  });
});
