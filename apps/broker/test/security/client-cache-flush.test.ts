// Finding 10, client cache flushing: the cache kept an entry for any client_id a caller sent, so
// 10,000 random ids emptied it and every real client went back to the database. Only clients
// that exist are cached now.
import { describe, expect, it } from "vitest";
import { createClientCache, type ClientRow } from "../../src/oauth/clients/client-repo.ts";

describe("client cache", () => {
  it("attack: 10,001 random client ids → the real client stays cached", async () => {
    const reads = new Map<string, number>();
    const bank = { id: "bank-1" } as ClientRow;
    const cache = createClientCache({
      findById: async (id) => {
        reads.set(id, (reads.get(id) ?? 0) + 1);
        return id === bank.id ? bank : null;
      },
    }, 60_000);
    expect(await cache.get("bank-1")).toBe(bank);
    for (let i = 0; i <= 10_000; i++) expect(await cache.get(`random-${i}`)).toBeNull();
    expect(await cache.get("bank-1")).toBe(bank);
    expect(reads.get("bank-1")).toBe(1);
  });

  it("an unknown id is read again next time (so a client registered meanwhile is found)", async () => {
    let exists = false;
    const cache = createClientCache({ findById: async (id) => (exists ? ({ id } as ClientRow) : null) }, 60_000);
    expect(await cache.get("late")).toBeNull();
    exists = true;
    expect(await cache.get("late")).toMatchObject({ id: "late" });
  });
});
