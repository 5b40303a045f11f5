// Every CLI command through the `link-broker` bin, on an embedded database in a temp folder:
// exit codes (0 ok, 1 failed, 2 usage, 3 ledger does not verify), --help everywhere, one-line
// usage errors, and read-only commands that never migrate.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createConsentLedger } from "@link-broker/consent-ledger";
import { createDb } from "@link-broker/db";
import { beforeAll, describe, expect, it } from "vitest";
import { createEphemeralLedgerKeys } from "@link-broker/consent-ledger/testing";

const BIN = fileURLToPath(new URL("../bin/link-broker.js", import.meta.url));
// Each invocation starts Node, tsx, Prisma and the embedded database: seconds of CPU, far more on
// a loaded machine, hence the generous timeouts.
const cwd = mkdtempSync(join(tmpdir(), "lb-cli-"));
const env = { PATH: process.env.PATH!, INIT_CWD: cwd, BROKER_MASTER_KEY: randomBytes(32).toString("base64"), BROKER_REGISTRATION_TOKEN: "t".repeat(40), LOG_LEVEL: "silent" };

function cli(...args: string[]) {
  const res = spawnSync(process.execPath, [BIN, ...args], { cwd, env, encoding: "utf8", timeout: 120_000 });
  return { code: res.status, out: res.stdout, err: res.stderr.split("\n").filter((l) => l && !l.includes("Warning") && !l.includes("--trace-warnings")) };
}

const openDb = () => createDb({ url: join(cwd, ".data", "pglite") });

describe("link-broker (the bin)", () => {
  it("answers --help on every level with exit 0", () => {
    const top = cli("--help");
    expect(top.code).toBe(0);
    for (const group of ["migrate", "staff create|disable|reset-totp|list", "clients list|create|rate-limits|disable", "keys rotate|list", "ledger verify|export|checkpoint|keys rotate|keys list"]) expect(top.out).toContain(group);
    for (const args of [["staff", "--help"], ["ledger", "-h"], ["migrate", "--help"], ["staff", "create", "--help"], ["staff", "disable", "--help"], ["staff", "reset-totp", "--help"], ["clients", "create", "--help"], ["clients", "list", "--help"], ["clients", "disable", "--help"], ["clients", "rate-limits", "--help"], ["keys", "rotate", "--help"], ["keys", "list", "--help"], ["ledger", "verify", "--help"], ["ledger", "export", "--help"], ["ledger", "checkpoint", "--help"], ["ledger", "keys", "rotate", "--help"], ["ledger", "keys", "list", "--help"]]) {
      const r = cli(...args);
      expect(r.code, args.join(" ")).toBe(0);
      expect(r.out).toMatch(/^usage: link-broker/);
    }
    expect(cli("ledger", "export", "--help").out).toContain("--format jsonl|csv");
  }, 900_000);

  it("refuses unknown commands, unknown options and bad values with one line and exit 2", () => {
    const cases: [string[], RegExp][] = [
      [["ledger", "export", "--fromat", "csv"], /Unknown option '--fromat'/],
      [["ledger", "export", "--format", "xml"], /--format must be jsonl or csv/],
      [["ledger", "export", "--from", "last tuesday"], /--from must be an ISO date/],
      [["staff", "create", "--email", "a@bank.example"], /--role is required/],
      [["staff", "create", "--email", "a@bank.example", "--role", "root"], /--role must be auditor or admin/],
      [["staff", "disable"], /--email is required/],
      [["clients", "disable", "extra"], /Unexpected argument 'extra'/],
      [["clients", "disable", "--client-id", "--clear"], /^link-broker: --client-id needs a value \(one that starts with a dash is written --client-id=VALUE\)/],
      [["clients", "create", "--grant-type", "password", "--name", "x"], /--grant-type must be/],
      [["bogus"], /unknown command 'bogus'/],
      [["keys", "spin"], /unknown command 'keys spin'/],
    ];
    for (const [args, message] of cases) {
      const r = cli(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toHaveLength(1);
      expect(r.err[0]).toMatch(message);
      expect(r.out).toBe("");
    }
    expect(cli().code).toBe(2);
  }, 900_000);

  describe("on a database", () => {
    let adminPassword = "";
    let clientId = "";

    beforeAll(() => {
      // A read-only command does not migrate: on an empty database it says so and exits 1.
      const r = cli("staff", "list");
      expect(r).toMatchObject({ code: 1, err: [expect.stringMatching(/pending migration\(s\): run `link-broker migrate` first/)] });
    }, 600_000);

    it("migrate applies the migrations once", () => {
      expect(cli("migrate")).toMatchObject({ code: 0, out: expect.stringMatching(/^applied .*_init, .*_console_staff/) });
      expect(cli("migrate")).toMatchObject({ code: 0, out: "database is up to date\n" });
    }, 600_000);

    it("staff create, list, reset-totp and disable", async () => {
      const created = cli("staff", "create", "--email", "Admin@Bank.example", "--role", "admin");
      expect(created.code).toBe(0);
      adminPassword = /one-time password: (\S+)/.exec(created.out)![1]!;
      expect(adminPassword.length).toBeGreaterThanOrEqual(20);
      expect(created.out).toContain("/console/login");
      expect(cli("staff", "create", "--email", "admin@bank.example", "--role", "auditor")).toMatchObject({ code: 1, err: ["link-broker: staff member admin@bank.example already exists"] });
      expect(cli("staff", "create", "--email", "auditor@bank.example", "--role", "auditor").code).toBe(0);
      expect(cli("staff", "reset-totp", "--email", "auditor@bank.example")).toMatchObject({ code: 0, out: expect.stringContaining("enrol a new one") });
      expect(cli("staff", "disable", "--email", "auditor@bank.example")).toMatchObject({ code: 0, out: expect.stringContaining("disabled auditor@bank.example") });
      expect(cli("staff", "disable", "--email", "nobody@bank.example")).toMatchObject({ code: 1, err: ["link-broker: no staff member with email nobody@bank.example"] });
      expect(cli("staff", "list").out).toMatch(/admin@bank\.example {2}admin {2}enabled[\s\S]*auditor@bank\.example {2}auditor {2}disabled/);

      const db = await openDb();
      try {
        const audit = await db.prisma.staffAuditEvent.findMany({ orderBy: { seq: "asc" } });
        expect(audit.map((a) => a.action)).toEqual(["staff.create", "staff.create", "staff.reset_totp", "staff.disable"]);
        const admin = await db.prisma.staff.findUnique({ where: { email: "admin@bank.example" } });
        expect(admin?.passwordHash).toMatch(/^scrypt\$131072\$8\$1\$/);
        expect(admin?.passwordHash).not.toContain(adminPassword);
      } finally {
        await db.close();
      }
    }, 900_000);

    it("clients create, list and disable", () => {
      const created = cli("clients", "create", "--name", "Demo Bank", "--scope", "balance:read alerts:fraud", "--rate-limits", '{"token":"5000/10s","link":"600/m"}');
      expect(created.code).toBe(0);
      const body = JSON.parse(created.out.slice(0, created.out.lastIndexOf("}") + 1));
      expect(body).toMatchObject({ client_id: expect.any(String), client_secret: expect.any(String), registration_access_token: expect.any(String), scope: "balance:read alerts:fraud", rate_limits: { token: "5000/10s", link: "600/m" } });
      expect(cli("clients", "create", "--name", "X", "--rate-limits", '{"register":"1/s"}')).toMatchObject({ code: 2, err: [expect.stringMatching(/^link-broker: --rate-limits unknown endpoint "register"; a client's own limit can be set for token, /)] });
      clientId = body.client_id;
      const metaFile = join(cwd, "service.json");
      writeFileSync(metaFile, JSON.stringify({ client_name: "Back office", grant_types: ["client_credentials"], scope: "ledger:check" }));
      expect(cli("clients", "create", "--metadata", metaFile).code).toBe(0);
      expect(cli("clients", "create", "--metadata", join(cwd, "missing.json"))).toMatchObject({ code: 2, err: [expect.stringMatching(/--metadata must name a readable JSON file/)] });

      const list = cli("clients", "list");
      expect(list.out).toContain(`${clientId}  "Demo Bank"  balance:read alerts:fraud  enabled  rate limits token=5000/10s link=600/m\n`);
      expect(list.out).not.toContain(body.client_secret);

      // An operator changes the client's own limits later, or removes them; bad input changes nothing.
      expect(cli("clients", "rate-limits", "--client-id", clientId, "--set", '{"introspect":"9000/10s"}')).toMatchObject({ code: 0, out: expect.stringContaining(`${clientId}: rate limits introspect=9000/10s`) });
      expect(cli("clients", "list").out).toContain(`${clientId}  "Demo Bank"  balance:read alerts:fraud  enabled  rate limits introspect=9000/10s\n`);
      expect(cli("clients", "rate-limits", "--client-id", clientId, "--set", '{"token":"lots"}')).toMatchObject({ code: 2, err: [expect.stringMatching(/^link-broker: --set token must be "COUNT\/WINDOW"/)] });
      expect(cli("clients", "rate-limits", "--client-id", clientId)).toMatchObject({ code: 2, err: ["link-broker: give either --set JSON or --clear (see `link-broker clients rate-limits --help`)"] });
      expect(cli("clients", "rate-limits", "--client-id", clientId, "--set", "{}", "--clear")).toMatchObject({ code: 2, err: ["link-broker: give either --set JSON or --clear (see `link-broker clients rate-limits --help`)"] });
      expect(cli("clients", "rate-limits", "--client-id", "no-such-client", "--clear")).toMatchObject({ code: 1, err: ["link-broker: no enabled client no-such-client"] });
      expect(cli("clients", "list").out).toContain(`${clientId}  "Demo Bank"  balance:read alerts:fraud  enabled  rate limits introspect=9000/10s\n`);
      expect(cli("clients", "rate-limits", "--client-id", clientId, "--clear")).toMatchObject({ code: 0, out: expect.stringContaining("its own rate limits removed") });
      expect(cli("clients", "list").out).toContain(`${clientId}  "Demo Bank"  balance:read alerts:fraud  enabled\n`);
      expect(cli("clients", "disable", "--client-id", clientId)).toMatchObject({ code: 0, out: expect.stringContaining(`disabled ${clientId}`) });
      expect(cli("clients", "list").out).toMatch(new RegExp(`${clientId}  "Demo Bank"  .* disabled 20`));
      expect(cli("clients", "disable", "--client-id", "no-such-client")).toMatchObject({ code: 1, err: ["link-broker: no enabled client no-such-client"] });
    }, 900_000);

    it("takes a client id that starts with a dash after --client-id (ids made before they stopped starting with one)", async () => {
      const created = cli("clients", "create", "--name", "Dash Bank");
      expect(created.code).toBe(0);
      const id = JSON.parse(created.out.slice(0, created.out.lastIndexOf("}") + 1)).client_id as string;
      expect(id).not.toMatch(/^-/);
      const dashed = `-${id.slice(1)}`;
      const db = await openDb();
      try {
        await db.prisma.$executeRaw`UPDATE "client" SET "id" = ${dashed} WHERE "id" = ${id}`;
      } finally {
        await db.close();
      }
      expect(cli("clients", "rate-limits", "--client-id", dashed, "--set", '{"introspect":"9000/10s"}')).toMatchObject({ code: 0, out: expect.stringContaining(`${dashed}: rate limits introspect=9000/10s`) });
      expect(cli("clients", "disable", "--client-id", dashed)).toMatchObject({ code: 0, out: expect.stringContaining(`disabled ${dashed}`) });
    }, 900_000);

    it("keys rotate and list", () => {
      expect(cli("keys", "list").out).toContain("no signing keys yet");
      const rotated = cli("keys", "rotate");
      expect(rotated.code).toBe(0);
      const kid = /new signing key (\S+) is active/.exec(rotated.out)![1]!;
      cli("keys", "rotate");
      const list = cli("keys", "list").out.trim().split("\n");
      expect(list).toHaveLength(2);
      expect(list.find((l) => l.startsWith(kid))).toMatch(/ES256 {2}created .* {2}published until /);
      expect(list.filter((l) => l.endsWith("active"))).toHaveLength(1);
    }, 900_000);

    describe("ledger", () => {
      beforeAll(async () => {
        const db = await openDb();
        const ledger = createConsentLedger({ db, keys: createEphemeralLedgerKeys() });
        for (let i = 0; i < 3; i++) await ledger.grant({ clientId: "bank-a", subject: `c${i}`, scopes: ["balance:read"], actor: "customer" });
        await ledger.close();
        await db.close();
      }, 600_000);

      it("checkpoints, verifies and exports", () => {
        const cp = cli("ledger", "checkpoint");
        expect(cp.code).toBe(0);
        expect(JSON.parse(cp.out)).toMatchObject({ seq: "3", head_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
        const v = cli("ledger", "verify");
        expect(v.code).toBe(0);
        expect(JSON.parse(v.out)).toMatchObject({ ok: true, checked: 3, checkpoints_verified: 1, first_bad_seq: null, problem: null });
        const jsonl = cli("ledger", "export");
        // Entries, then the signed checkpoint and the projection rows (typed lines).
        expect(jsonl.out.trim().split("\n").map((l) => JSON.parse(l).type ?? JSON.parse(l).seq)).toEqual(["1", "2", "3", "checkpoint", "consent", "consent", "consent"]);
        const csv = cli("ledger", "export", "--format", "csv");
        expect(csv.out.trim().split("\r\n")).toHaveLength(4);
        expect(cli("ledger", "export", "--from", "2999-01-01").out).toBe("");
      }, 900_000);

      it("verify names the first bad entry and exits 3 after tampering", async () => {
        const db = await openDb();
        try {
          // As the table's owner, with its append-only trigger off for the one statement.
          await db.prisma.$executeRawUnsafe("ALTER TABLE ledger_entry DISABLE TRIGGER USER");
          await db.prisma.$executeRawUnsafe("UPDATE ledger_entry SET subject = 'someone-else' WHERE seq = 2");
          await db.prisma.$executeRawUnsafe("ALTER TABLE ledger_entry ENABLE TRIGGER USER");
        } finally {
          await db.close();
        }
        const v = cli("ledger", "verify");
        expect(v.code).toBe(3);
        expect(JSON.parse(v.out)).toMatchObject({ ok: false, first_bad_seq: "2" });
        expect(v.err).toEqual([expect.stringMatching(/^link-broker: the ledger does not verify: first bad entry is seq 2/)]);
      }, 600_000);
    });
  });
});
