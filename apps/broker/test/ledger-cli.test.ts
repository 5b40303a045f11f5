import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConsentLedger } from "@link-broker/consent-ledger";
import { createEphemeralLedgerKeys } from "@link-broker/consent-ledger/testing";
import { createDb, migrate } from "@link-broker/db";
import { beforeAll, describe, expect, it } from "vitest";

const CLI = fileURLToPath(new URL("../src/cli/cli.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");
const cwd = mkdtempSync(join(tmpdir(), "lb-cli-"));
const anchor = join(cwd, "checkpoints.jsonl");

function run(args: string[], env: Record<string, string>) {
  const res = spawnSync(process.execPath, ["--import", TSX, CLI, ...args], { cwd, env: { PATH: process.env.PATH!, ...env }, encoding: "utf8", timeout: 60_000 });
  return { code: res.status, out: res.stdout, err: res.stderr.split("\n").filter((l) => l && !l.includes("warning")) };
}
let exported = "";
const cli = (...args: string[]) => run(["ledger", ...args], { INIT_CWD: cwd, BROKER_REGISTRATION_TOKEN: "t".repeat(40), LOG_LEVEL: "silent", LEDGER_CHECKPOINT_FILE: anchor });

describe("link-broker ledger (embedded database)", () => {
  beforeAll(async () => {
    const db = await createDb({ url: join(cwd, ".data", "pglite") });
    await migrate(db);
    const ledger = createConsentLedger({ db, keys: createEphemeralLedgerKeys() });
    for (let i = 0; i < 3; i++) await ledger.grant({ clientId: "bank-a", subject: `c${i}`, scopes: ["balance:read"], actor: "customer" });
    await ledger.close();
    await db.close();
  });

  it("checkpoints (anchored to LEDGER_CHECKPOINT_FILE), verifies and exports", () => {
    const cp = cli("checkpoint");
    expect(cp.code).toBe(0);
    const signed = JSON.parse(cp.out);
    expect(signed).toMatchObject({ seq: "3", head_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(JSON.parse(readFileSync(anchor, "utf8"))).toEqual({ type: "checkpoint", ...signed });
    const v = cli("verify", "--checkpoints", anchor);
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out)).toEqual({ ok: true, checked: 3, head_seq: "3", head_hash: signed.head_hash, checkpoints_verified: 1, first_bad_seq: null, problem: null });
    const jsonl = cli("export");
    exported = jsonl.out;
    expect(jsonl.out.trim().split("\n").map((l) => JSON.parse(l).type ?? JSON.parse(l).seq)).toEqual(["1", "2", "3", "checkpoint", "consent", "consent", "consent"]);
    const csv = cli("export", "--format", "csv");
    expect(csv.out.trim().split("\r\n")).toHaveLength(4);
    expect(cli("export", "--format", "xml")).toMatchObject({ code: 2, err: [expect.stringMatching(/^link-broker: --format must be jsonl or csv/)] });
  }, 180_000);

  it("rotates and lists the ledger keys; an export verifies with the published keys alone, without a database", () => {
    expect(cli("keys", "rotate")).toMatchObject({ code: 0, out: expect.stringContaining("new ledger key") });
    const listed = cli("keys", "list").out.trim().split("\n");
    expect(listed).toEqual([expect.stringMatching(/^\S+ {2}EdDSA {2}activated \S+ {2}retired \S+$/), expect.stringMatching(/^\S+ {2}EdDSA {2}activated \S+ {2}active$/)]);
    // An auditor's folder: the export and /ledger/keys.json, and no configuration at all.
    const dir = mkdtempSync(join(tmpdir(), "lb-audit-"));
    writeFileSync(join(dir, "export.jsonl"), exported);
    writeFileSync(join(dir, "keys.json"), cli("keys", "list", "--json").out);
    const audit = (...args: string[]) => run(["ledger", "verify", ...args], {});
    const ok = audit("--file", join(dir, "export.jsonl"), "--keys", join(dir, "keys.json"));
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({ ok: true, checked: 3, checkpoints_verified: 1 });
    // Without the (now retired) key that signed it, the checkpoint does not verify.
    const keys = JSON.parse(readFileSync(join(dir, "keys.json"), "utf8"));
    writeFileSync(join(dir, "old-keys.json"), JSON.stringify({ keys: keys.keys.slice(1) }));
    const bad = audit("--file", join(dir, "export.jsonl"), "--keys", join(dir, "old-keys.json"));
    expect(bad.code).toBe(3);
    expect(JSON.parse(bad.out)).toMatchObject({ ok: false, problem: "checkpoint_signature", first_bad_seq: "3" });
    expect(audit("--file", join(dir, "export.jsonl"))).toMatchObject({ code: 2, err: [expect.stringMatching(/^link-broker: verify --file needs --keys keys.json \(GET \/ledger\/keys.json\)/)] });
  }, 180_000);
});
