import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
// Resolved here, so the child can run from an empty working directory.
const TSX = import.meta.resolve("tsx");

function start(env: Record<string, string>) {
  const cwd = mkdtempSync(join(tmpdir(), "lb-main-"));
  const res = spawnSync(process.execPath, ["--import", TSX, MAIN], {
    cwd,
    env: { PATH: process.env.PATH!, INIT_CWD: cwd, PORT: "0", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  return { code: res.status, stderr: res.stderr.split("\n").filter((l) => l && !l.includes("warning:")) };
}

describe("start-up with bad configuration", () => {
  it("stops with one clear line for a malformed BROKER_MASTER_KEY", () => {
    const { code, stderr } = start({ BROKER_MASTER_KEY: "not-a-key" });
    expect(code).toBe(1);
    expect(stderr).toEqual(["link-broker: BROKER_MASTER_KEY: must be 32 bytes encoded as base64 (e.g. `openssl rand -base64 32`)"]);
  });

  it("stops with one clear line for an unreachable DATABASE_URL, without its password", () => {
    const { code, stderr } = start({ DATABASE_URL: "postgres://user:hunter2@127.0.0.1:1/db" });
    expect(code).toBe(1);
    expect(stderr).toEqual(["link-broker: DATABASE_URL: cannot use postgres at 127.0.0.1:1/db (connection refused)"]);
  });

  it("stops with one clear line for a DATABASE_URL that is not Postgres", () => {
    const { code, stderr } = start({ DATABASE_URL: "mysql://x/y" });
    expect(code).toBe(1);
    expect(stderr).toHaveLength(1);
    expect(stderr[0]).toMatch(/^link-broker: DATABASE_URL: /);
  });

  it("requires the production secrets", () => {
    const { code, stderr } = start({ NODE_ENV: "production", PUBLIC_URL: "https://broker.example", BROKER_REGISTRATION_TOKEN: "t".repeat(40) });
    expect(code).toBe(1);
    expect(stderr).toEqual(["link-broker: DATABASE_URL: is required when NODE_ENV=production"]);
  });
});
