import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConsentLedger } from "@link-broker/consent-ledger";
import { createDb, migrate } from "@link-broker/db";
import { beforeAll, describe, expect, it } from "vitest";
import { createEphemeralLedgerSigner } from "./support/ephemeral-signer.ts";

const CLI = fileURLToPath(new URL("../src/cli/cli.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");
const cwd = mkdtempSync(join(tmpdir(), "lb-cli-"));

function cli(...args: string[]) {
  const res = spawnSync(process.execPath, ["--import", TSX, CLI, "ledger", ...args], {
    cwd,
    env: { PATH: process.env.PATH!, INIT_CWD: cwd, BROKER_REGISTRATION_TOKEN: "t".repeat(40), LOG_LEVEL: "silent" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { code: res.status, out: res.stdout, err: res.stderr.split("\n").filter((l) => l && !l.includes("warning")) };
}

describe("link-broker ledger (embedded database)", () => {
  beforeAll(async () => {
    const db = await createDb({ url: join(cwd, ".data", "pglite") });
    await migrate(db);
    const ledger = createConsentLedger({ db, signer: await createEphemeralLedgerSigner() });
    for (let i = 0; i < 3; i++) await ledger.grant({ clientId: "bank-a", subject: `c${i}`, scopes: ["balance:read"], actor: "customer" });
    await ledger.close();
    await db.close();
  });

  it("checkpoints, verifies and exports", () => {
    const cp = cli("checkpoint");
    expect(cp.code).toBe(0);
    expect(JSON.parse(cp.out)).toMatchObject({ seq: "3", head_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const v = cli("verify");
    expect(v.code).toBe(0);
    expect(JSON.parse(v.out)).toMatchObject({ ok: true, checked: 3, checkpoint: { seq: "3", ok: true } });
    const jsonl = cli("export");
    expect(jsonl.out.trim().split("\n").map((l) => JSON.parse(l).seq)).toEqual(["1", "2", "3"]);
    const csv = cli("export", "--format", "csv");
    expect(csv.out.trim().split("\r\n")).toHaveLength(4);
    expect(cli("export", "--format", "xml")).toMatchObject({ code: 1, err: ["link-broker: --format must be jsonl or csv"] });
  }, 180_000);
});
