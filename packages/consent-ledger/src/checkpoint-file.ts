// Anchoring outside the database: with LEDGER_CHECKPOINT_FILE set, every checkpoint this process
// signs is also appended to that file as one JSON line (the export's checkpoint line), for an
// operator to ship to WORM storage. Someone who rewrites the database cannot rewrite those.
import { appendFile, readFile } from "node:fs/promises";
import type { CheckpointRecord } from "./ledger-audit.ts";
import { invalidRequest } from "./ledger-errors.ts";

export async function appendCheckpointLine(path: string, c: CheckpointRecord): Promise<void> {
  await appendFile(path, `${JSON.stringify({ type: "checkpoint", seq: c.seq, head_hash: c.headHash, kid: c.kid, jws: c.jws })}\n`, { mode: 0o640 });
}

/** A checkpoint line (`{"type":"checkpoint", seq, head_hash, kid, jws}`), or null for any other line. */
export function checkpointFromLine(v: unknown): CheckpointRecord | null {
  const o = v as Record<string, unknown> | null;
  if (!o || typeof o !== "object" || o.type !== "checkpoint") return null;
  // Wrong types are kept as strings: such a checkpoint then fails its signature check.
  return { seq: String(o.seq), headHash: String(o.head_hash), kid: String(o.kid), jws: String(o.jws) };
}

/** Every checkpoint of an anchoring file. A line that is not a checkpoint is an error. */
export async function readCheckpointFile(path: string): Promise<CheckpointRecord[]> {
  const text = await readFile(path, "utf8");
  const out: CheckpointRecord[] = [];
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      throw invalidRequest(`${path}:${i + 1} is not JSON`);
    }
    const c = checkpointFromLine(parsed);
    if (!c) throw invalidRequest(`${path}:${i + 1} is not a checkpoint line`);
    out.push(c);
  }
  return out;
}
