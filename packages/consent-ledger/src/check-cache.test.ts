// The check cache answers only what no append has changed since it was read: each appended
// consent's keys are dropped when its notification arrives, anything it cannot read clears
// everything, a read that raced an invalidation is not kept, and nothing is answered before the
// cache hears appends or after it stops. (Postgres LISTEN and its heartbeat: test/propagation.test.ts.)
import type { Consent, Db } from "@link-broker/db";
import { describe, expect, it } from "vitest";
import { createCheckCache, type InvalidationSource } from "./check-cache.ts";
import { INVALIDATION_CHANNEL } from "./ledger-store.ts";

const rows = (id: string) => [{ id } as Consent];
const postgres = { kind: "postgres", url: "postgres://unused" } as Db;

/** An invalidation source the test delivers by hand, recording whether it was unsubscribed. */
function manualSource() {
  let deliver: ((payload: unknown) => void) | undefined;
  const state = { subscribed: 0, unsubscribed: 0 };
  const source: InvalidationSource = async (d) => {
    deliver = d;
    state.subscribed++;
    return async () => {
      state.unsubscribed++;
    };
  };
  return { source, state, deliver: (p: unknown) => deliver!(p) };
}

async function started(options: { enabled?: boolean } = {}) {
  const m = manualSource();
  let appends = 0;
  const cache = createCheckCache(postgres, { source: m.source, onAppend: () => appends++, ...options });
  await cache.start();
  return { cache, ...m, appends: () => appends };
}

describe("the check cache", () => {
  it("answers nothing and keeps nothing before it hears appends", () => {
    const cache = createCheckCache(postgres, { source: manualSource().source });
    expect(cache.usable()).toBe(false);
    cache.set("l:1", rows("c1"), cache.epoch());
    expect(cache.get("l:1")).toBeUndefined();
    expect(cache.stats()).toEqual({ hits: 0, misses: 1, invalidations: 0, size: 0 });
  });

  it("answers a stored read until an append names its key, counting hits and misses", async () => {
    const { cache, deliver, appends } = await started();
    expect(cache.usable()).toBe(true);
    cache.set("l:1", rows("c1"), cache.epoch());
    cache.set("p:bank-a:psid-1", rows("c1"), cache.epoch());
    cache.set("l:2", rows("c2"), cache.epoch());
    expect(cache.get("l:1")).toEqual(rows("c1"));
    expect(cache.get("l:3")).toBeUndefined();
    deliver({ consentId: "c1", keys: ["l:1", "p:bank-a:psid-1"] });
    expect(appends()).toBe(1);
    expect(cache.get("l:1")).toBeUndefined();
    expect(cache.get("p:bank-a:psid-1")).toBeUndefined();
    expect(cache.get("l:2")).toEqual(rows("c2"));
    expect(cache.stats()).toEqual({ hits: 2, misses: 3, invalidations: 1, size: 1 });
  });

  it("does not keep a read that raced an invalidation, of any key", async () => {
    const { cache, deliver } = await started();
    const before = cache.epoch();
    deliver({ consentId: "c9", keys: ["l:9"] });
    cache.set("l:1", rows("c1"), before);
    expect(cache.get("l:1")).toBeUndefined();
    const local = cache.epoch();
    cache.invalidate(["l:8"]);
    cache.set("l:1", rows("c1"), local);
    expect(cache.get("l:1")).toBeUndefined();
    const cleared = cache.epoch();
    cache.clear();
    cache.set("l:1", rows("c1"), cleared);
    expect(cache.get("l:1")).toBeUndefined();
    cache.set("l:1", rows("c1"), cache.epoch());
    expect(cache.get("l:1")).toEqual(rows("c1"));
  });

  it("clears everything for an append whose keys it cannot read, and for a payload that is not one", async () => {
    const { cache, deliver, appends } = await started();
    const fill = () => {
      cache.set("l:1", rows("c1"), cache.epoch());
      cache.set("l:2", rows("c2"), cache.epoch());
    };
    fill();
    deliver({ consentId: "c1", keys: "l:1" });
    expect([cache.get("l:1"), cache.get("l:2"), appends()]).toEqual([undefined, undefined, 1]);
    fill();
    deliver({ consentId: "c1" });
    expect([cache.get("l:1"), cache.get("l:2"), appends()]).toEqual([undefined, undefined, 2]);
    for (const garbage of [null, "l:1", 7]) {
      fill();
      deliver(garbage);
      expect([cache.get("l:1"), cache.get("l:2")]).toEqual([undefined, undefined]);
    }
    // Not an append: nobody is told of one.
    expect(appends()).toBe(2);
  });

  it("needs no one to tell of appends", async () => {
    const m = manualSource();
    const cache = createCheckCache(postgres, { source: m.source });
    await cache.start();
    cache.set("l:1", rows("c1"), cache.epoch());
    m.deliver({ consentId: "c1", keys: ["l:1"] });
    expect(cache.get("l:1")).toBeUndefined();
    let raw: ((s: string) => void) | undefined;
    const listen = async (_: string, cb: (s: string) => void) => {
      raw = cb;
      return async () => {};
    };
    const embedded = createCheckCache({ kind: "pglite", pglite: { listen } } as unknown as Db);
    await embedded.start();
    expect(() => raw!("{not json")).not.toThrow();
  });

  it("ignores heartbeats when the source is given (they belong to its own LISTEN connection)", async () => {
    const { cache, deliver, appends } = await started();
    cache.set("l:1", rows("c1"), cache.epoch());
    deliver({ hb: "someone", sentAt: Date.now() });
    expect([cache.get("l:1"), appends()]).toEqual([rows("c1"), 0]);
  });

  it("answers nothing after it stops, and unsubscribes", async () => {
    const { cache, state } = await started();
    cache.set("l:1", rows("c1"), cache.epoch());
    await cache.close();
    expect(state).toEqual({ subscribed: 1, unsubscribed: 1 });
    expect(cache.usable()).toBe(false);
    expect(cache.get("l:1")).toBeUndefined();
    expect(cache.stats().size).toBe(0);
  });

  it("disabled, never subscribes and never answers", async () => {
    const { cache, state } = await started({ enabled: false });
    expect(state.subscribed).toBe(0);
    cache.set("l:1", rows("c1"), cache.epoch());
    expect(cache.get("l:1")).toBeUndefined();
    expect(cache.usable()).toBe(false);
  });

  it("on Postgres without a URL (no way to hear other processes), never caches", async () => {
    const blind = createCheckCache({ kind: "postgres" } as Db);
    await blind.start();
    blind.set("l:1", rows("c1"), blind.epoch());
    expect([blind.usable(), blind.get("l:1")]).toEqual([false, undefined]);
  });

  it("is bounded: at its limit of keys it starts over", async () => {
    const { cache } = await started();
    for (let i = 0; i < 100_000; i++) cache.set(`l:${i}`, rows("c"), cache.epoch());
    expect(cache.stats().size).toBe(100_000);
    cache.set("l:last", rows("c"), cache.epoch());
    expect(cache.stats().size).toBe(1);
    expect(cache.get("l:last")).toEqual(rows("c"));
  });
});

describe("the check cache on PGlite", () => {
  it("hears the embedded database's notifications; a payload it cannot parse clears everything", async () => {
    let listener: ((raw: string) => void) | undefined;
    let channel: string | undefined;
    let unlistened = 0;
    const pglite = {
      listen: async (ch: string, cb: (raw: string) => void) => {
        channel = ch;
        listener = cb;
        return async () => {
          unlistened++;
        };
      },
    };
    let appends = 0;
    const cache = createCheckCache({ kind: "pglite", pglite } as unknown as Db, { onAppend: () => appends++ });
    await cache.start();
    expect(channel).toBe(INVALIDATION_CHANNEL);
    expect(cache.usable()).toBe(true);
    cache.set("l:1", rows("c1"), cache.epoch());
    cache.set("l:2", rows("c2"), cache.epoch());
    listener!(JSON.stringify({ consentId: "c1", keys: ["l:1"] }));
    expect([cache.get("l:1"), cache.get("l:2"), appends]).toEqual([undefined, rows("c2"), 1]);
    listener!("{not json");
    expect([cache.get("l:2"), appends]).toEqual([undefined, 2]);
    await cache.close();
    expect(unlistened).toBe(1);
  });
});
