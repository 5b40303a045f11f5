import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRateLimitRepo } from "../src/plugins/rate-limit-repo.ts";

// The shared rate-limit windows on a real database: the database decides when a window ends, so
// every broker process counts in the same one.
let db: TestDb;
const t0 = new Date("2030-01-01T00:00:00.000Z");
const at = (ms: number) => new Date(t0.getTime() + ms);

beforeAll(async () => {
  db = await createTestDb();
});
afterAll(async () => db?.drop());

describe("rate-limit windows", () => {
  it("add up hits inside a window, open a new one at its end, and keep keys apart", async () => {
    const repo = createRateLimitRepo(db);
    expect(await repo.add("link:ip:a", 1, t0, 10_000)).toEqual({ count: 1, resetAt: at(10_000) });
    expect(await repo.add("link:ip:a", 3, at(4_000), 10_000)).toEqual({ count: 4, resetAt: at(10_000) });
    expect(await repo.add("link:ip:b", 2, at(4_000), 10_000)).toEqual({ count: 2, resetAt: at(14_000) });
    expect(await repo.add("link:ip:a", 1, at(9_999), 10_000)).toEqual({ count: 5, resetAt: at(10_000) });
    // At the window's end exactly, a new window starts with this hit.
    expect(await repo.add("link:ip:a", 1, at(10_000), 10_000)).toEqual({ count: 1, resetAt: at(20_000) });
    expect(await repo.add("link:ip:b", 1, at(10_000), 10_000)).toEqual({ count: 3, resetAt: at(14_000) });
  });

  it("reads the window's end as the instant it was written, whatever the process's time zone", async () => {
    const zone = process.env.TZ;
    process.env.TZ = "Asia/Kolkata";
    try {
      const repo = createRateLimitRepo(db);
      expect(await repo.add("link:ip:tz", 1, t0, 60_000)).toEqual({ count: 1, resetAt: at(60_000) });
      expect(await repo.add("link:ip:tz", 1, at(59_000), 60_000)).toEqual({ count: 2, resetAt: at(60_000) });
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
