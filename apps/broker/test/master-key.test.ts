import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTestApp } from "./support/suite-log.ts";
import { systemClock } from "../src/clock.ts";
import { checkMasterKey, describeMasterKeyProblem } from "../src/master-key/master-key-check.ts";
import { rewrapSealedValues } from "../src/master-key/rewrap-service.ts";
import { createSealer, keyIdOf } from "../src/crypto/seal.ts";
import { SEALED_COLUMNS } from "../src/master-key/sealed-columns.ts";
import { createSealedValuesRepo } from "../src/master-key/sealed-values-repo.ts";
import { totpSecretContext } from "../src/linking/totp-service.ts";
import { createKeyStore } from "../src/oauth/keys/key-store.ts";
import { createKeysRepo } from "../src/oauth/keys/keys-repo.ts";
import { testConfig } from "./support/app.ts";

const keyA = randomBytes(32);
const keyB = randomBytes(32);
const kidA = keyIdOf(keyA);
const kidB = keyIdOf(keyB);
const sealerA = createSealer({ kid: kidA, key: keyA });
const sealerB = createSealer({ kid: kidB, key: keyB });
const rotating = createSealer({ kid: kidB, key: keyB }, [{ kid: kidA, key: keyA }]);

let db: TestDb;
const totpIds: string[] = [];

beforeAll(async () => {
  db = await createTestDb();
  // Values sealed under key A: a signing key and a few TOTP secrets.
  await createKeyStore({ repo: createKeysRepo(db), sealer: sealerA, clock: systemClock }).rotate();
  for (let i = 0; i < 5; i++) {
    const id = randomUUID();
    totpIds.push(id);
    await db.prisma.totpFactor.create({ data: { id, clientId: "bank", subject: `s${i}`, secretSealed: sealerA.seal(`secret-${i}`, totpSecretContext(id)) } });
  }
});
afterAll(async () => db?.drop());

describe("a master key that does not open the database's sealed values", () => {
  it("is found at start, with one line naming BROKER_MASTER_KEY and the key id found", async () => {
    const status = await checkMasterKey({ repo: createSealedValuesRepo(db), sealer: sealerB });
    expect(status).toEqual({ ok: false, column: "signing_key.privateJwkSealed", foundKid: kidA, reason: "unknown_key" });
    const line = describeMasterKeyProblem(status as Exclude<typeof status, { ok: true }>, kidB);
    expect(line).toMatch(/^BROKER_MASTER_KEY: /);
    expect(line).toContain(`key id ${kidA}`);
    expect(line).not.toContain("\n");
    expect(await checkMasterKey({ repo: createSealedValuesRepo(db), sealer: sealerA })).toEqual({ ok: true });
  });

  it("makes /readyz answer 503, and ready again with the old key in BROKER_MASTER_KEY_PREVIOUS", async () => {
    const wrong = await buildTestApp({ config: testConfig({ BROKER_MASTER_KEY: keyB.toString("base64") }), db, logger: false });
    const res = await wrong.inject({ method: "GET", url: "/readyz" });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: "not_ready", master_key: "unknown_key" });
    await wrong.close();
    const rotatingApp = await buildTestApp({
      config: testConfig({ BROKER_MASTER_KEY: keyB.toString("base64"), BROKER_MASTER_KEY_PREVIOUS: ` ${randomBytes(32).toString("base64")}, ${keyA.toString("base64")}` }),
      db,
      logger: false,
    });
    const ok = await rotatingApp.inject({ method: "GET", url: "/readyz" });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ status: "ready", master_key: "ok" });
    await rotatingApp.close();
  });

  it("refuses a malformed BROKER_MASTER_KEY_PREVIOUS with the variable's name", () => {
    expect(() => testConfig({ BROKER_MASTER_KEY_PREVIOUS: "short" })).toThrow(/^BROKER_MASTER_KEY_PREVIOUS: key 1 must be 32 bytes/);
  });
});

describe("rotation with keys rewrap", () => {
  it("re-seals in batches, resumes after an interruption, reports counts, and the old key can go", async () => {
    const repo = createSealedValuesRepo(db);
    const totp = SEALED_COLUMNS.filter((c) => c.name === "totp_factor.secretSealed");
    // Interrupted after the first batch of two.
    await expect(
      rewrapSealedValues({
        repo,
        sealer: rotating,
        batchSize: 2,
        columns: totp,
        onBatch: () => {
          throw new Error("interrupted");
        },
      }),
    ).rejects.toThrow("interrupted");
    expect(await repo.countSealedUnder(totp[0]!, kidB)).toBe(2);

    const batches: number[] = [];
    const counts = await rewrapSealedValues({ repo, sealer: rotating, batchSize: 2, onBatch: (_c, n) => batches.push(n) });
    expect(counts.find((c) => c.column === "totp_factor.secretSealed")).toEqual({ column: "totp_factor.secretSealed", rewrapped: 3, current: 5, failed: 0 });
    expect(counts.find((c) => c.column === "signing_key.privateJwkSealed")).toMatchObject({ rewrapped: 1, current: 1, failed: 0 });
    expect(batches.length).toBeGreaterThanOrEqual(3);

    // A second run has nothing left to do.
    const again = await rewrapSealedValues({ repo, sealer: rotating });
    expect(again.every((c) => c.rewrapped === 0 && c.failed === 0)).toBe(true);

    // The new key alone opens everything, with the same plaintexts.
    expect(await checkMasterKey({ repo, sealer: sealerB })).toEqual({ ok: true });
    for (const [i, id] of totpIds.entries()) {
      const row = await db.prisma.totpFactor.findUniqueOrThrow({ where: { id } });
      expect(sealerB.unseal(row.secretSealed, totpSecretContext(id))).toBe(`secret-${i}`);
    }
    const store = createKeyStore({ repo: createKeysRepo(db), sealer: sealerB, clock: systemClock });
    expect(await store.signer.sign({ sub: "x" }, { typ: "JWT" })).toMatch(/^ey/);
  });

  it("counts values no configured key opens and leaves them as they were", async () => {
    const id = randomUUID();
    const stranger = createSealer({ kid: "0123456789abcdef", key: randomBytes(32) });
    const sealed = stranger.seal("x", totpSecretContext(id));
    await db.prisma.totpFactor.create({ data: { id, clientId: "bank", subject: "stranger", secretSealed: sealed } });
    const counts = await rewrapSealedValues({ repo: createSealedValuesRepo(db), sealer: rotating });
    expect(counts.find((c) => c.column === "totp_factor.secretSealed")).toMatchObject({ rewrapped: 0, failed: 1 });
    expect((await db.prisma.totpFactor.findUniqueOrThrow({ where: { id } })).secretSealed).toBe(sealed);
    await db.prisma.totpFactor.delete({ where: { id } });
  });
});

const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const CLI = fileURLToPath(new URL("../src/cli/cli.ts", import.meta.url));
const TSX = import.meta.resolve("tsx");

// Child processes on the embedded database each take seconds to open it; this runs in the
// Postgres pass of the test command (the functions above run on both).
describe.runIf(process.env.DATABASE_URL)("the real broker and CLI on one database", () => {
  const cwd = mkdtempSync(join(tmpdir(), "lb-master-key-"));
  let url = "";
  beforeAll(async () => {
    const own = await createTestDb();
    url = own.url!;
    afterAll(() => own.drop());
  });
  const run = (script: string, env: Record<string, string>, ...args: string[]) => {
    const res = spawnSync(process.execPath, ["--import", TSX, script, ...args], {
      cwd,
      env: { PATH: process.env.PATH!, INIT_CWD: cwd, PORT: "0", DATABASE_URL: url, BROKER_REGISTRATION_TOKEN: "t".repeat(40), LOG_LEVEL: "silent", ...env },
      encoding: "utf8",
      timeout: 60_000,
    });
    return { code: res.status, out: res.stdout.trim().split("\n"), err: res.stderr.split("\n").filter((l) => l && !l.includes("warning:")) };
  };

  it("refuses to start under another key, then rotates with keys rewrap", () => {
    const a = { BROKER_MASTER_KEY: keyA.toString("base64") };
    const b = { BROKER_MASTER_KEY: keyB.toString("base64") };
    expect(run(CLI, a, "keys", "rotate").code).toBe(0);

    const refused = run(MAIN, b);
    expect(refused.code).toBe(1);
    expect(refused.err).toHaveLength(1);
    expect(refused.err[0]).toMatch(/^link-broker: BROKER_MASTER_KEY: does not open the sealed values/);
    expect(refused.err[0]).toContain(kidA);

    const rewrap = run(CLI, { ...b, BROKER_MASTER_KEY_PREVIOUS: a.BROKER_MASTER_KEY }, "keys", "rewrap");
    expect(rewrap.err).toEqual([]);
    expect(rewrap.code).toBe(0);
    expect(rewrap.out).toContain(`signing_key.privateJwkSealed: 1 re-sealed, 1 under ${kidB}, 0 not opened`);
    expect(rewrap.out.at(-1)).toBe(`done: 1 values re-sealed under ${kidB}; older keys can leave BROKER_MASTER_KEY_PREVIOUS`);
    // Key A is refused in turn: the values are under key B now.
    expect(run(MAIN, a).err[0]).toContain(kidB);
  }, 180_000);
});
