import { describe, expect, it, vi } from "vitest";
import { createClientCache, type ClientRow } from "./client-repo.ts";

const row = (name: string) => ({ id: "c1", name: name }) as unknown as ClientRow;

function fakeRepo() {
  const reads: Array<(r: ClientRow | null) => void> = [];
  const findById = vi.fn(() => new Promise<ClientRow | null>((resolve) => reads.push(resolve)));
  return { findById, reads };
}

describe("client cache", () => {
  it("shares one database read among concurrent misses", async () => {
    const repo = fakeRepo();
    const cache = createClientCache(repo, 1000);
    const a = cache.get("c1");
    const b = cache.get("c1");
    expect(repo.findById).toHaveBeenCalledTimes(1);
    repo.reads[0]!(row("one"));
    expect((await a)?.name).toBe("one");
    expect((await b)?.name).toBe("one");
  });

  it("keeps answering from an expired entry while one background read refreshes it", async () => {
    vi.useFakeTimers();
    try {
      const repo = fakeRepo();
      const cache = createClientCache(repo, 1000, 3000);
      const first = cache.get("c1");
      repo.reads[0]!(row("one"));
      await first;
      vi.advanceTimersByTime(1500);
      expect((await cache.get("c1"))?.name).toBe("one");
      expect((await cache.get("c1"))?.name).toBe("one");
      expect(repo.findById).toHaveBeenCalledTimes(2);
      repo.reads[1]!(row("two"));
      await vi.waitFor(async () => expect((await cache.get("c1"))?.name).toBe("two"));
    } finally {
      vi.useRealTimers();
    }
  });

  it("never answers from an entry older than its maximum age: another process's delete shows within it", async () => {
    vi.useFakeTimers();
    try {
      const repo = fakeRepo();
      const cache = createClientCache(repo); // defaults: refresh after 500 ms, never older than 1 s
      const first = cache.get("c1");
      repo.reads[0]!(row("one"));
      await first;
      vi.advanceTimersByTime(1001);
      const next = cache.get("c1");
      let settled = false;
      void next.then(() => (settled = true));
      await Promise.resolve();
      expect(settled).toBe(false);
      repo.reads[1]!(null);
      expect(await next).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not let a read that an invalidation overtook restore the older row", async () => {
    const repo = fakeRepo();
    const cache = createClientCache(repo, 1000);
    const stale = cache.get("c1");
    cache.invalidate("c1");
    const fresh = cache.get("c1");
    repo.reads[1]!(row("updated"));
    repo.reads[0]!(row("before update"));
    expect((await stale)?.name).toBe("before update");
    expect((await fresh)?.name).toBe("updated");
    expect((await cache.get("c1"))?.name).toBe("updated");
    expect(repo.findById).toHaveBeenCalledTimes(2);
  });
});
