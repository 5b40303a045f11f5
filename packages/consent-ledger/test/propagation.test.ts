// "A withdrawal made in one process must be refused by check in every other process within 1 s,
// and never allowed after that."
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createCheckCache, STALE_MS } from "../src/check-cache.ts";
import { createConsentLedger, type ConsentLedger } from "../src/index.ts";
import { createEphemeralLedgerKeys } from "../src/testing.ts";
import { fakeClock, makeLedger } from "./support.ts";

let db: TestDb;
let ledger: ConsentLedger;
beforeAll(async () => {
  db = await createTestDb();
  ({ ledger } = await makeLedger(db, fakeClock(new Date())));
});
afterAll(async () => {
  await ledger?.close();
  await db?.drop();
});

describe("withdrawal propagation", () => {
  // A listener that stops hearing its own heartbeat may be missing withdrawals: it must answer
  // from the database until it hears one again, and forget what it had cached meanwhile.
  it.runIf(process.env.DATABASE_URL)("on Postgres, stops serving the cache once its heartbeat is older than STALE_MS, and drops what it cached", async () => {
    let t = Date.now();
    const cache = createCheckCache(db, { now: () => t });
    await cache.start();
    // The next heartbeat, sent at the new time, makes the cache usable again.
    const heard = () => vi.waitFor(() => expect(cache.usable()).toBe(true), { timeout: 5_000, interval: 10 });
    try {
      expect(cache.usable()).toBe(true);
      cache.set("k", [], cache.epoch());
      expect(cache.get("k")).toEqual([]);
      t += STALE_MS + 60_000; // no heartbeat for longer than STALE_MS
      // Stale: nothing is served or stored, even before the next heartbeat.
      expect(cache.usable()).toBe(false);
      expect(cache.get("k")).toBeUndefined();
      cache.set("k2", [], cache.epoch());
      await heard();
      expect(cache.get("k2")).toBeUndefined();
      // Stale again with no read meanwhile: the heartbeat that ends it drops what was cached before.
      cache.set("k3", [], cache.epoch());
      t += STALE_MS + 60_000;
      await heard();
      expect(cache.get("k3")).toBeUndefined();
    } finally {
      await cache.close();
    }
  });

  it("a second ledger on the same database (single process, both runtimes) refuses at once", async () => {
    const other = createConsentLedger({ db, keys: createEphemeralLedgerKeys() });
    await other.ready();
    const g = await ledger.grant({ clientId: "bank-a", subject: "same-proc", scopes: ["balance:read"], actor: "customer" });
    const who = { clientId: "bank-a", subject: "same-proc" };
    await new Promise((r) => setTimeout(r, 100)); // the grant's NOTIFY has arrived
    for (let i = 0; i < 5; i++) expect((await other.check(who, { scope: "balance:read" })).allowed).toBe(true);
    expect(other.cacheStats().hits).toBeGreaterThan(0);
    const t0 = performance.now();
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    while ((await other.check(who, { scope: "balance:read" })).allowed) {
      expect(performance.now() - t0).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 2));
    }
    for (let i = 0; i < 50; i++) expect((await other.check(who, { scope: "balance:read" })).reason).toBe("withdrawn");
    await other.close();
  });

  it.runIf(process.env.DATABASE_URL)("another process refuses within 1 s and never allows again (Postgres)", async () => {
    const child = spawn(process.execPath, ["--import", import.meta.resolve("tsx"), fileURLToPath(new URL("./fixtures/checker.ts", import.meta.url)), db.url!], { stdio: ["pipe", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const next = async () => JSON.parse((await lines.next()).value as string);
    const ask = async (subject: string) => {
      child.stdin.write(`${JSON.stringify({ op: "check", clientId: "bank-a", subject })}\n`);
      return next();
    };
    try {
      expect(await next()).toEqual({ ready: true });
      const g = await ledger.grant({ clientId: "bank-a", subject: "two-proc", scopes: ["balance:read"], actor: "customer" });
      // Warm the child's cache: later answers come from it, not the database.
      for (let i = 0; i < 5; i++) expect((await ask("two-proc")).allowed).toBe(true);
      const warm = await ask("two-proc");
      expect(warm.stats.hits).toBeGreaterThanOrEqual(3);

      const t0 = performance.now();
      await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
      const committedAt = performance.now();
      let refusedAt = 0;
      for (;;) {
        const r = await ask("two-proc");
        if (!r.allowed) {
          refusedAt = performance.now();
          expect(r.reason).toBe("withdrawn");
          break;
        }
        expect(performance.now() - committedAt).toBeLessThan(1000);
      }
      const delay = refusedAt - committedAt;
      console.log(`withdrawal propagation: refused in the other process ${delay.toFixed(1)} ms after commit (withdraw took ${(committedAt - t0).toFixed(1)} ms)`);
      expect(delay).toBeLessThan(1000);
      // Never allowed again.
      for (let i = 0; i < 100; i++) expect((await ask("two-proc")).allowed).toBe(false);
    } finally {
      child.stdin.write(`${JSON.stringify({ op: "quit" })}\n`);
      const exited = new Promise((r) => child.once("exit", r));
      const kill = setTimeout(() => child.kill(), 5_000);
      await exited;
      clearTimeout(kill);
    }
  });
});

describe("listener connection loss", () => {
  it.runIf(process.env.DATABASE_URL)("bypasses the cache while the LISTEN connection is down, so a withdrawal is never missed", async () => {
    const other = createConsentLedger({ db, keys: createEphemeralLedgerKeys() });
    await other.ready();
    const g = await ledger.grant({ clientId: "bank-a", subject: "conn-loss", scopes: ["balance:read"], actor: "customer" });
    const who = { clientId: "bank-a", subject: "conn-loss" };
    for (let i = 0; i < 3; i++) expect((await other.check(who, { scope: "balance:read" })).allowed).toBe(true);
    // Kill every listener connection of this database, then withdraw while they reconnect.
    await db.adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'link-broker-ledger-listener'`);
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    const t0 = performance.now();
    while ((await other.check(who, { scope: "balance:read" })).allowed) {
      expect(performance.now() - t0).toBeLessThan(1000);
      await new Promise((r) => setTimeout(r, 5));
    }
    for (let i = 0; i < 20; i++) expect((await other.check(who, { scope: "balance:read" })).reason).toBe("withdrawn");
    await other.close();
  });

  it.runIf(process.env.DATABASE_URL)("wakes append listeners once the LISTEN connection is back: appends made in the gap were not heard", async () => {
    const other = createConsentLedger({ db, keys: createEphemeralLedgerKeys() });
    await other.ready();
    let heard = 0;
    other.onAppend(() => heard++);
    try {
      await db.adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'link-broker-ledger-listener'`);
      await vi.waitFor(() => expect(heard).toBeGreaterThan(0), { timeout: 5_000, interval: 10 });
    } finally {
      await other.close();
    }
  });
});
