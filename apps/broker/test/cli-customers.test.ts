// `link-broker customers reset-totp` through the bin, on an embedded database in a temp folder:
// the factor goes, the staff audit log records the CLI's reset with its reason, and bad input
// exits 2 with one line.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDb } from "@link-broker/db";
import { beforeAll, describe, expect, it } from "vitest";

const BIN = fileURLToPath(new URL("../bin/link-broker.js", import.meta.url));
const cwd = mkdtempSync(join(tmpdir(), "lb-cli-customers-"));
const env = { PATH: process.env.PATH!, INIT_CWD: cwd, BROKER_MASTER_KEY: randomBytes(32).toString("base64"), BROKER_REGISTRATION_TOKEN: "t".repeat(40), LOG_LEVEL: "silent" };

function cli(...args: string[]) {
  const res = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: "utf8", timeout: 120_000 });
  return { code: res.status, out: res.stdout, err: res.stderr.split("\n").filter((l) => l && !l.includes("Warning") && !l.includes("--trace-warnings")) };
}

/** The embedded database is one process's at a time: open it, use it, close it before the next command. */
async function withDb<T>(use: (db: Awaited<ReturnType<typeof createDb>>) => Promise<T>): Promise<T> {
  const db = await createDb({ url: join(cwd, ".data", "pglite") });
  try {
    return await use(db);
  } finally {
    await db.close();
  }
}

describe("link-broker customers reset-totp", () => {
  beforeAll(async () => {
    expect(cli("migrate").code).toBe(0);
    await withDb(async (db) => {
      await db.prisma.client.create({ data: { id: "bank-1", name: "Demo Bank", secretHash: "x".repeat(43), registrationTokenHash: "y".repeat(43), tokenEndpointAuthMethod: "client_secret_basic", grantTypes: ["authorization_code"], scopes: ["balance:read"] } });
      await db.prisma.totpFactor.create({ data: { id: "factor-1", clientId: "bank-1", subject: "cust-alice-001", secretSealed: "sealed", confirmedAt: new Date() } });
    });
  }, 600_000);

  it("answers --help, and refuses a missing or empty reason with one line and exit 2", () => {
    expect(cli("--help").out).toContain("customers");
    expect(cli("customers", "reset-totp", "--help")).toMatchObject({ code: 0, out: expect.stringMatching(/^usage: link-broker customers reset-totp[\s\S]*--reason/) });
    expect(cli("customers", "reset-totp", "--client-id", "bank-1", "--subject", "cust-alice-001")).toMatchObject({ code: 2, err: [expect.stringMatching(/--reason is required/)] });
    expect(cli("customers", "reset-totp", "--client-id", "bank-1", "--subject", "cust-alice-001", "--reason", " x ")).toMatchObject({ code: 2, err: [expect.stringMatching(/--reason must say why/)] });
  }, 600_000);

  it("resets the factor and records it in the staff audit log; again, nothing changes; an unknown bank exits 1", async () => {
    const reset = cli("customers", "reset-totp", "--client-id", "bank-1", "--subject", "cust-alice-001", "--reason", "lost phone, ticket 4711");
    expect(reset).toMatchObject({ code: 0, out: expect.stringContaining("reset the second factor of cust-alice-001 at bank-1") });
    await withDb(async (db) => {
      expect(await db.prisma.totpFactor.count()).toBe(0);
      const rows = await db.prisma.staffAuditEvent.findMany({ where: { action: "reset_second_factor" } });
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ staffId: null, target: "customer:bank-1:cust-alice-001", detail: { via: "cli", reason: "lost phone, ticket 4711", reset: true, notified: 0, not_notified: 0 } });
    });
    expect(cli("customers", "reset-totp", "--client-id", "bank-1", "--subject", "cust-alice-001", "--reason", "asked twice")).toMatchObject({ code: 0, out: expect.stringContaining("nothing changed") });
    expect(cli("customers", "reset-totp", "--client-id", "no-such-bank", "--subject", "cust-alice-001", "--reason", "lost phone")).toMatchObject({ code: 1, err: ["link-broker: no enabled client no-such-bank"] });
    await withDb(async (db) => expect(await db.prisma.staffAuditEvent.count({ where: { action: "reset_second_factor" } })).toBe(2));
  }, 900_000);
});
