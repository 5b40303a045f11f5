// The anchoring file: one checkpoint line per signed checkpoint, appended, readable back exactly;
// anything else in it is an error that names the line.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { appendCheckpointLine, checkpointFromLine, readCheckpointFile } from "./checkpoint-file.ts";

const dir = mkdtempSync(join(tmpdir(), "lb-checkpoint-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cp = (seq: string) => ({ seq, headHash: "a".repeat(64), kid: "k1", jws: `h.${seq}.s` });

describe("the anchoring file", () => {
  it("appends one export-style line per checkpoint, readable only by owner and group, and reads them back", async () => {
    const file = join(dir, "anchor.jsonl");
    await appendCheckpointLine(file, cp("1"));
    await appendCheckpointLine(file, cp("2"));
    expect(readFileSync(file, "utf8")).toBe(
      `${JSON.stringify({ type: "checkpoint", seq: "1", head_hash: "a".repeat(64), kid: "k1", jws: "h.1.s" })}\n${JSON.stringify({ type: "checkpoint", seq: "2", head_hash: "a".repeat(64), kid: "k1", jws: "h.2.s" })}\n`,
    );
    expect(statSync(file).mode & 0o777).toBe(0o640 & ~process.umask());
    expect(await readCheckpointFile(file)).toEqual([cp("1"), cp("2")]);
  });

  it("skips blank lines; names the first line that is not JSON or not a checkpoint", async () => {
    const file = join(dir, "mixed.jsonl");
    const line = JSON.stringify({ type: "checkpoint", seq: "1", head_hash: "a".repeat(64), kid: "k1", jws: "h.1.s" });
    writeFileSync(file, `\n${line}\n   \n${line}\n`);
    expect(await readCheckpointFile(file)).toEqual([cp("1"), cp("1")]);
    writeFileSync(file, `${line}\n\n{oops\n`);
    await expect(readCheckpointFile(file)).rejects.toMatchObject({ code: "invalid_request", message: `${file}:3 is not JSON` });
    writeFileSync(file, `${line}\n${JSON.stringify({ type: "consent", id: "c1" })}\n`);
    await expect(readCheckpointFile(file)).rejects.toMatchObject({ code: "invalid_request", message: `${file}:2 is not a checkpoint line` });
  });

  it("reads a checkpoint line's members as strings, and nothing else as a checkpoint", () => {
    expect(checkpointFromLine({ type: "checkpoint", seq: 7, head_hash: null, kid: 1, jws: true })).toEqual({ seq: "7", headHash: "null", kid: "1", jws: "true" });
    for (const other of [null, undefined, "checkpoint", 42, {}, { type: "consent" }, { type: "Checkpoint", seq: "1" }]) expect(checkpointFromLine(other)).toBeNull();
  });
});
