import { spawnSync } from "node:child_process";
import type { InvalidationSource } from "../src/check-cache.ts";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import type { Db } from "@link-broker/db";
import { expect } from "vitest";
import { createConsentLedger, readCheckpointFile, verifyExportFile, type ConsentLedger, type LedgerKeys, type VerifyResult } from "../src/index.ts";
import { createEphemeralLedgerKeys, type EphemeralLedgerKeys } from "../src/testing.ts";

export type TestKeys = EphemeralLedgerKeys;

/** A clock tests move by hand. */
export function fakeClock(start = new Date("2026-03-01T10:00:00.000Z")) {
  let t = start.getTime();
  return {
    now: () => new Date(t),
    set: (d: Date) => (t = d.getTime()),
    advance: (ms: number) => (t += ms),
  };
}

export const DAY = 24 * 60 * 60 * 1000;

export async function makeLedger(db: Db, clock = fakeClock(), keys?: TestKeys, options: { checkpointFile?: string; invalidations?: InvalidationSource } = {}): Promise<{ ledger: ConsentLedger; clock: ReturnType<typeof fakeClock>; keys: TestKeys }> {
  const k = keys ?? createEphemeralLedgerKeys({ clock });
  const ledger = createConsentLedger({ db, keys: k, clock, subjectKey: "receipt-subject-key", ...options });
  await ledger.ready();
  return { ledger, clock, keys: k };
}

export async function entryCount(db: Db) {
  return db.prisma.ledgerEntry.count();
}

/** A verify result in its wire form (GET /ledger/verify, the CLI, the stand-alone script). */
export function wireResult(v: VerifyResult) {
  return {
    ok: v.ok,
    checked: v.checked,
    head_seq: v.headSeq,
    head_hash: v.headHash,
    checkpoints_verified: v.checkpointsVerified,
    first_bad_seq: v.firstBadSeq,
    problem: v.problem,
    ...(v.consentId !== undefined ? { consent_id: v.consentId } : {}),
  };
}

export const STANDALONE_VERIFIER = fileURLToPath(new URL("../verifier/verify-ledger.mjs", import.meta.url));

/**
 * Verifies three ways and checks they agree: `ledger.verify()` on the database, the package's
 * export verifier, and the stand-alone script (its own process) on a JSONL export and the keys.
 */
export async function verifyEveryWay(ledger: ConsentLedger, keys: LedgerKeys, anchorFile?: string) {
  const anchored = anchorFile ? await readCheckpointFile(anchorFile) : [];
  const fromDb = wireResult(await ledger.verify({ checkpoints: anchored }));
  const dir = mkdtempSync(join(tmpdir(), "lb-verify-"));
  try {
    const exportFile = join(dir, "export.jsonl");
    const keysFile = join(dir, "keys.json");
    await pipeline(ledger.export({ format: "jsonl" }), createWriteStream(exportFile));
    writeFileSync(keysFile, JSON.stringify(await keys.published()));
    const fromExport = wireResult(await verifyExportFile(exportFile, await keys.published(), anchored));
    const script = spawnSync(process.execPath, [STANDALONE_VERIFIER, exportFile, keysFile, ...(anchorFile ? [anchorFile] : [])], { encoding: "utf8", timeout: 60_000 });
    expect(script.stderr).toBe("");
    const standalone = JSON.parse(script.stdout);
    expect(fromExport).toEqual(fromDb);
    expect(standalone).toEqual(fromDb);
    expect(script.status).toBe(fromDb.ok ? 0 : 1);
    return fromDb;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
