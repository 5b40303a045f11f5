import { afterEach, describe, expect, it, vi } from "vitest";
import { createRateLimiter } from "./rate-limit.ts";
import type { RateLimitRepo } from "./rate-limit-repo.ts";

afterEach(() => {
  vi.useRealTimers();
});

describe("the rate limiter", () => {
  it("keeps counting the hits it is writing until the database answers with them", async () => {
    vi.useFakeTimers();
    let shared = 0;
    let release: (() => void) | undefined;
    const repo: RateLimitRepo = {
      add: async (_key, hits, now, windowMs) => {
        if (shared > 0) await new Promise<void>((r) => (release = r)); // the first flush is slow
        shared += hits;
        return { count: shared, resetAt: new Date(now.getTime() + windowMs) };
      },
    };
    const limiter = createRateLimiter({ repo, now: () => 0, flushMs: 10 });
    const limit = { max: 3, windowSeconds: 60 };
    expect((await limiter.hit("k", limit)).count).toBe(1); // opens the window in the database
    expect((await limiter.hit("k", limit)).count).toBe(2);
    expect((await limiter.hit("k", limit)).count).toBe(3);
    await vi.advanceTimersByTimeAsync(10); // the flush of those two starts, and waits
    expect(release).toBeDefined();
    expect((await limiter.hit("k", limit)).count).toBe(4); // over the limit while they are written
    release!();
    await vi.advanceTimersByTimeAsync(0);
    expect((await limiter.hit("k", limit)).count).toBe(5);
  });

  it("does not carry a window's last hits into the next window when they are written after it ended", async () => {
    vi.useFakeTimers();
    let t = 0;
    const rows = new Map<string, { count: number; resetAt: number }>();
    // The database's rule (rate-limit-repo.ts): a write after the window's end opens the next one.
    const repo: RateLimitRepo = {
      add: async (key, hits, at, windowMs) => {
        const row = rows.get(key);
        const next = row && row.resetAt > at.getTime() ? { count: row.count + hits, resetAt: row.resetAt } : { count: hits, resetAt: at.getTime() + windowMs };
        rows.set(key, next);
        return { count: next.count, resetAt: new Date(next.resetAt) };
      },
    };
    const limiter = createRateLimiter({ repo, now: () => t, flushMs: 200 });
    const limit = { max: 5, windowSeconds: 60 };
    expect((await limiter.hit("k", limit)).count).toBe(1);
    for (let i = 2; i <= 6; i++) expect((await limiter.hit("k", limit)).count).toBe(i); // over the limit
    t += 60_000; // the window ends before its last hits are written
    await vi.advanceTimersByTimeAsync(200);
    // The next window starts empty: this is its first hit, not its sixth.
    expect((await limiter.hit("k", limit)).count).toBe(1);
    expect(rows.get("k")?.count).toBe(1);
  });
});
