import { describe, expect, it, vi } from "vitest";
import { refreshingValue } from "./refreshing-value.ts";

function loads() {
  const pending: Array<(v: string) => void> = [];
  const load = vi.fn(() => new Promise<string>((resolve) => pending.push(resolve)));
  return { load, pending };
}

describe("refreshing value", () => {
  it("shares one load among concurrent first callers", async () => {
    const { load, pending } = loads();
    const value = refreshingValue(1000, load);
    const [a, b] = [value.get(), value.get()];
    expect(load).toHaveBeenCalledTimes(1);
    pending[0]!("one");
    expect([await a, await b]).toEqual(["one", "one"]);
  });

  it("serves the stale value while one background load refreshes it", async () => {
    vi.useFakeTimers();
    try {
      const { load, pending } = loads();
      const value = refreshingValue(1000, load);
      const first = value.get();
      pending[0]!("one");
      await first;
      vi.advanceTimersByTime(1500);
      expect([await value.get(), await value.get()]).toEqual(["one", "one"]);
      expect(load).toHaveBeenCalledTimes(2);
      pending[1]!("two");
      await vi.waitFor(async () => expect(await value.get()).toBe("two"));
    } finally {
      vi.useRealTimers();
    }
  });

  // A key rotation clears the active key while a load of the previous one may still be running.
  it("does not let a load that clear() overtook restore its older value", async () => {
    const { load, pending } = loads();
    const value = refreshingValue(1000, load);
    const stale = value.get();
    value.clear();
    const fresh = value.get();
    pending[1]!("after clear");
    pending[0]!("before clear");
    expect(await stale).toBe("before clear");
    expect(await fresh).toBe("after clear");
    expect(await value.get()).toBe("after clear");
    expect(load).toHaveBeenCalledTimes(2);
  });

  it("peek gives at once what get would give at once, and nothing get would wait for", async () => {
    vi.useFakeTimers();
    try {
      const { load, pending } = loads();
      const value = refreshingValue(1000, load, 2000);
      expect(value.peek()).toBeUndefined();
      const first = value.get();
      pending[0]!("one");
      await first;
      expect(value.peek()?.value).toBe("one");
      // Stale: still served, and one background load starts, as get does.
      vi.advanceTimersByTime(1500);
      expect(value.peek()?.value).toBe("one");
      expect(load).toHaveBeenCalledTimes(2);
      // Past maxAgeMs: get waits for the load, so peek has nothing to give.
      vi.advanceTimersByTime(1000);
      expect(value.peek()).toBeUndefined();
      pending[1]!("two");
      await vi.waitFor(() => expect(value.peek()?.value).toBe("two"));
      value.clear();
      expect(value.peek()).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
