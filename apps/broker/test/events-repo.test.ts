import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createEventsRepo, type NewEvent, PUSH_JOB_KIND, pushJobId } from "../src/events/events-repo.ts";

// The collector's write on a real database: events and their push jobs are stored with the cursor
// move in one statement, only from the cursor the collector read.
let db: TestDb;
const made = new Date("2030-03-01T10:20:30.456Z");
const now = new Date("2030-03-01T10:20:31.789Z");

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db?.drop());
beforeEach(async () => {
  await db.prisma.consentEvent.deleteMany({});
  await db.prisma.job.deleteMany({});
  await db.prisma.eventCursor.deleteMany({});
});

const event = (seq: number, push: NewEvent["push"] = "none"): NewEvent => ({
  jti: `jti-${seq}-${push}`,
  key: `ledger:${seq}`,
  clientId: "bank-a",
  consentId: `c-${seq % 2}`,
  type: "consent.granted",
  ledgerSeq: String(seq),
  set: `set-${seq}`,
  createdAt: made,
  push,
});
const rows = () => db.prisma.consentEvent.findMany({ orderBy: { position: "asc" } });

describe("store", () => {
  it("stores the events in the order given, with a push job for each pending one, and moves the cursor", async () => {
    const repo = createEventsRepo(db);
    expect(await repo.cursor()).toBe("0");
    // Out of seq order on purpose: position follows the order given, not the key or the jti.
    const batch = [event(3, "pending"), event(1), event(2, "pending")];
    expect(await repo.store("0", "3", batch, now)).toEqual(batch);
    expect(await repo.cursor()).toBe("3");
    const stored = await rows();
    expect(stored.map((r) => r.jti)).toEqual(batch.map((e) => e.jti));
    expect(stored[0]).toMatchObject({ key: "ledger:3", clientId: "bank-a", consentId: "c-1", type: "consent.granted", ledgerSeq: 3n, set: "set-3", createdAt: made, push: "pending", ackedAt: null });
    const jobs = await db.prisma.job.findMany({ orderBy: { id: "asc" } });
    expect(jobs.map((j) => ({ id: j.id, kind: j.kind, payload: j.payload, runAt: j.runAt, createdAt: j.createdAt, doneAt: j.doneAt }))).toEqual(
      [batch[2]!, batch[0]!].map((e) => ({ id: pushJobId(e.jti), kind: PUSH_JOB_KIND, payload: { jti: e.jti }, runAt: now, createdAt: now, doneAt: null })),
    );
  });

  it("stores nothing and answers null when the cursor is not where the collector read it", async () => {
    const repo = createEventsRepo(db);
    await repo.store("0", "2", [event(1), event(2)], now);
    expect(await repo.store("0", "4", [event(3, "pending"), event(4)], now)).toBeNull();
    expect(await repo.store("5", "6", [event(6)], now)).toBeNull();
    expect(await repo.cursor()).toBe("2");
    expect((await rows()).map((r) => r.key)).toEqual(["ledger:1", "ledger:2"]);
    expect(await db.prisma.job.count()).toBe(0);
  });

  it("skips events whose key exists, and keeps the cursor when it stays (expiry events)", async () => {
    const repo = createEventsRepo(db);
    await repo.store("0", "1", [event(1)], now);
    const again = { ...event(1, "pending"), jti: "jti-other" };
    const expiring = { ...event(7, "pending"), key: "expiring:c-1:1900000000000" };
    expect(await repo.store("1", "1", [again, expiring], now)).toEqual([expiring]);
    expect(await repo.cursor()).toBe("1");
    expect((await rows()).map((r) => r.jti)).toEqual(["jti-1-none", expiring.jti]);
    expect((await db.prisma.job.findMany()).map((j) => j.id)).toEqual([pushJobId(expiring.jti)]);
  });

  it("two collectors storing the same batch at once store it once", async () => {
    const repos = [createEventsRepo(db), createEventsRepo(db), createEventsRepo(db)];
    await repos[0]!.store("0", "1", [event(1)], now);
    const batch = [event(2, "pending"), event(3, "pending")];
    // Each collector signs its own copy (its own jtis); only one copy may be stored.
    const results = await Promise.all(repos.map((r, i) => r.store("1", "3", batch.map((e) => ({ ...e, jti: `${e.jti}-${i}` })), now)));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect((await rows()).map((r) => r.key)).toEqual(["ledger:1", "ledger:2", "ledger:3"]);
    expect(await db.prisma.job.count()).toBe(2);
    expect(await repos[1]!.cursor()).toBe("3");
  });
});
