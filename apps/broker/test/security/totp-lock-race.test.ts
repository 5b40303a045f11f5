// Finding 10, TOTP lock race: the failure count and the lock were read and set in separate
// statements, so wrong codes sent all at once were each checked before any lock landed. A try is
// now claimed in one conditional update before its code is looked at: no more than 5 codes are
// ever checked, however many arrive together.
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { generate } from "otplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSealer, keyIdOf, type Sealer } from "../../src/crypto/seal.ts";
import { createTotpRepo } from "../../src/linking/totp-repo.ts";
import { createTotpService, LOCK_MS, MAX_FAILURES } from "../../src/linking/totp-service.ts";
import { testClock } from "../support/linking-env.ts";

let db: TestDb;
const clock = testClock();
const key = Buffer.alloc(32, 9);
const realSealer = createSealer({ kid: keyIdOf(key), key });
/** Counts every time a TOTP secret is opened, that is every code actually checked. */
let checked = 0;
const sealer: Sealer = {
  ...realSealer,
  unseal(value, context) {
    if (context.endsWith(":secret")) checked++;
    return realSealer.unseal(value, context);
  },
};

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(() => db?.drop());

describe("TOTP lock under concurrency", () => {
  it(`attack: 25 wrong codes at once → at most ${MAX_FAILURES} are checked, the factor locks, the right code is refused until the lock ends`, async () => {
    const service = createTotpService({ repo: createTotpRepo(db), sealer, clock });
    const enrolment = await service.enrol("bank-a", "sub-race", "attempt-race", { issuer: "Bank A", account: "customer" });
    const secret = new URL(enrolment.otpauthUri).searchParams.get("secret")!;
    const epoch = () => Math.floor(clock.now().getTime() / 1000);
    expect((await service.verify("bank-a", "sub-race", await generate({ secret, epoch: epoch() }))).ok).toBe(true);
    clock.advance(30_000);

    checked = 0;
    const wrong = Array.from({ length: 25 }, (_, i) => String(100000 + i * 7919).slice(0, 6));
    const outcomes = await Promise.all(wrong.map((code) => service.verify("bank-a", "sub-race", code)));
    expect(checked).toBeLessThanOrEqual(MAX_FAILURES);
    expect(outcomes.filter((o) => !o.ok && o.reason === "invalid").length).toBeLessThan(MAX_FAILURES);
    expect(outcomes.filter((o) => !o.ok && o.reason === "locked").length).toBeGreaterThanOrEqual(25 - MAX_FAILURES);

    const row = await db.prisma.totpFactor.findFirstOrThrow({ where: { subject: "sub-race" } });
    expect(row.lockedUntil!.getTime()).toBeGreaterThan(clock.now().getTime());
    expect(await service.verify("bank-a", "sub-race", await generate({ secret, epoch: epoch() }))).toMatchObject({ ok: false, reason: "locked" });
    clock.advance(LOCK_MS + 1000);
    expect((await service.verify("bank-a", "sub-race", await generate({ secret, epoch: epoch() }))).ok).toBe(true);
  });
});
