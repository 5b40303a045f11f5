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
});
