// Concurrent appenders must still form one valid chain.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createDb } from "@link-broker/db";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createConsentLedger, type ConsentLedger } from "../src/index.ts";
import { createEphemeralLedgerKeys } from "../src/testing.ts";
import { makeLedger } from "./support.ts";

let db: TestDb;
let ledger: ConsentLedger;
beforeAll(async () => {
  db = await createTestDb();
  ({ ledger } = await makeLedger(db));
});
afterAll(async () => {
  await ledger?.close();
  await db?.drop();
});

async function appender(l: ConsentLedger, name: string, count: number) {
  for (let i = 0; i < count; i++) {
    const g = await l.grant({ clientId: "bank-a", subject: `${name}-${i}`, scopes: ["balance:read"], actor: "customer" });
    if (i % 3 === 0) await l.withdraw({ consentId: g.consentId, actor: "customer" });
  }
}

describe("concurrent appends", () => {
  it("8 concurrent appenders in one process produce a valid chain", async () => {
    const before = await db.prisma.ledgerEntry.count();
    await Promise.all(Array.from({ length: 8 }, (_, i) => appender(ledger, `p${i}`, 10)));
    const v = await ledger.verify();
    expect(v.ok).toBe(true);
    expect(v.checked).toBe(before + 8 * (10 + 4));
  });

  it("takes a seq only to append: a no-op withdrawal and a refused renewal leave no gap", async () => {
    const a = await ledger.grant({ clientId: "bank-a", subject: "seq-a", scopes: ["balance:read"], actor: "customer" });
    const w = await ledger.withdraw({ consentId: a.consentId, actor: "customer" });
    expect(w.seq).toBe(String(BigInt(a.seq) + 1n));
    expect((await ledger.withdraw({ consentId: a.consentId, actor: "customer" })).changed).toBe(false);
    await expect(ledger.renew({ consentId: a.consentId, actor: "bank" })).rejects.toMatchObject({ code: "not_active" });
    const b = await ledger.grant({ clientId: "bank-a", subject: "seq-b", scopes: ["balance:read"], actor: "customer" });
    expect(b.seq).toBe(String(BigInt(a.seq) + 2n));
    expect((await ledger.verify()).ok).toBe(true);
  });

  it.runIf(process.env.DATABASE_URL)("8 concurrent appenders on separate connections (Postgres) produce a valid chain", async () => {
    const keys = createEphemeralLedgerKeys();
    const dbs = await Promise.all(Array.from({ length: 8 }, () => createDb({ url: db.url!, poolSize: 1 })));
    const ledgers = dbs.map((d) => createConsentLedger({ db: d, keys, cache: false }));
    const before = await db.prisma.ledgerEntry.count();
    await Promise.all(ledgers.map((l, i) => appender(l, `c${i}`, 15)));
    await Promise.all(ledgers.map((l) => l.close()));
    await Promise.all(dbs.map((d) => d.close()));
    const v = await ledger.verify();
    expect(v.ok).toBe(true);
    expect(v.checked).toBe(before + 8 * (15 + 5));
  });

  it.runIf(process.env.DATABASE_URL)("4 appender processes produce a valid chain (Postgres)", async () => {
    const child = fileURLToPath(new URL("./fixtures/appender.ts", import.meta.url));
    const tsx = import.meta.resolve("tsx");
    const before = await db.prisma.ledgerEntry.count();
    const codes = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        new Promise<number | null>((resolve) => {
          const p = spawn(process.execPath, ["--import", tsx, child, db.url!, `proc${i}`, "15"], { stdio: "inherit" });
          p.on("exit", resolve);
        }),
      ),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const v = await ledger.verify();
    expect(v.ok).toBe(true);
    expect(v.checked).toBe(before + 4 * 15);
  });
});
