// Tamper detection: the trigger is disabled as the table owner, history is changed, verify()
// must name the first bad seq. Each case gets its own database.
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterEach, describe, expect, it } from "vitest";
import { entryHash, type ConsentLedger } from "../src/index.ts";
import { makeLedger } from "./support.ts";

let db: TestDb | undefined;
let ledger: ConsentLedger | undefined;
afterEach(async () => {
  await ledger?.close();
  await db?.drop();
  db = undefined;
  ledger = undefined;
});

/** A ledger with `count` entries; returns their seqs in order. */
async function seeded(count = 6) {
  db = await createTestDb();
  ({ ledger } = await makeLedger(db));
  for (let i = 0; i < count; i++) await ledger.grant({ clientId: "bank-a", subject: `cust-${i}`, scopes: ["balance:read"], actor: "customer" });
  const seqs = (await db.prisma.ledgerEntry.findMany({ orderBy: { seq: "asc" }, select: { seq: true } })).map((e) => e.seq);
  expect((await ledger.verify()).ok).toBe(true);
  return { db, ledger, seqs };
}

const untriggered = (sql: string) => `ALTER TABLE ledger_entry DISABLE TRIGGER USER; ${sql}; ALTER TABLE ledger_entry ENABLE TRIGGER USER;`;

describe("tamper detection", () => {
  it("the database refuses UPDATE and DELETE while the trigger is on", async () => {
    const { db } = await seeded(1);
    await expect(db.prisma.$executeRawUnsafe(`UPDATE ledger_entry SET actor = 'bank'`)).rejects.toThrow(/append-only/);
    await expect(db.prisma.$executeRawUnsafe(`DELETE FROM ledger_entry`)).rejects.toThrow(/append-only/);
  });

  it("names the seq of a changed middle entry", async () => {
    const { db, ledger, seqs } = await seeded();
    await db.adminQuery(untriggered(`UPDATE ledger_entry SET scopes = ARRAY['balance:read','transactions:read'] WHERE seq = ${seqs[3]}`));
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBadSeq: String(seqs[3]), checked: 4 });
  });

  it("names the seq after a deleted entry", async () => {
    const { db, ledger, seqs } = await seeded();
    await db.adminQuery(untriggered(`DELETE FROM ledger_entry WHERE seq = ${seqs[2]}`));
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBadSeq: String(seqs[3]) });
  });

  it("names a forged inserted entry", async () => {
    const { db, ledger, seqs } = await seeded();
    const prev = (await db.prisma.ledgerEntry.findUnique({ where: { seq: seqs[5]! } }))!;
    // Appended after the head, linking to it, but its hash was not computed from its content.
    await db.adminQuery(
      `INSERT INTO ledger_entry (seq, "consentId", action, "clientId", subject, scopes, purposes, "expiresAt", actor, evidence, "recordedAt", "prevHash", hash)
       VALUES (${seqs[5]! + 100n}, 'forged', 'granted', 'bank-a', 'mallory', ARRAY['balance:read'], ARRAY['account_servicing'], now() + interval '1 day', 'customer', '{}', now(), '${prev.hash}', '${"f".repeat(64)}')`,
    );
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBadSeq: String(seqs[5]! + 100n) });
  });

  it("names the entry after a correctly hashed forgery slipped into a gap", async () => {
    db = await createTestDb();
    ({ ledger } = await makeLedger(db));
    const l = ledger;
    const grant = (subject: string) => l.grant({ clientId: "bank-a", subject, scopes: ["balance:read"], actor: "customer" });
    const a = await grant("a");
    // A rolled-back grant burns a seq: seqs are not contiguous, and the gap is where a forger aims.
    await db.prisma.$transaction(async (tx) => {
      await l.grant({ clientId: "bank-a", subject: "rolled-back", scopes: ["balance:read"], actor: "customer" }, { tx });
      throw new Error("rollback");
    }).catch(() => {});
    const b = await grant("b");
    const gap = BigInt(a.seq) + 1n;
    expect(BigInt(b.seq)).toBe(gap + 1n);
    const forged = { seq: gap, consentId: "forged", action: "granted", clientId: "bank-a", subject: "mallory", linkId: null, psid: null, scopes: ["balance:read"], purposes: ["account_servicing"], expiresAt: new Date("2026-05-01T00:00:00.000Z"), actor: "customer", evidence: {}, recordedAt: new Date("2026-03-01T10:00:00.000Z") };
    await db.adminQuery(
      `INSERT INTO ledger_entry (seq, "consentId", action, "clientId", subject, scopes, purposes, "expiresAt", actor, evidence, "recordedAt", "prevHash", hash)
       VALUES (${gap}, 'forged', 'granted', 'bank-a', 'mallory', ARRAY['balance:read'], ARRAY['account_servicing'], '2026-05-01T00:00:00.000Z', 'customer', '{}', '2026-03-01T10:00:00.000Z', '${a.hash}', '${entryHash(a.hash, forged)}')`,
    );
    // The forgery itself is self-consistent; the real entry after it no longer links.
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBadSeq: b.seq });
  });

  it("names the first of two entries whose seqs were swapped", async () => {
    const { db, ledger, seqs } = await seeded();
    const [a, b] = [seqs[2]!, seqs[3]!];
    await db.adminQuery(untriggered(`UPDATE ledger_entry SET seq = -1 WHERE seq = ${a}; UPDATE ledger_entry SET seq = ${a} WHERE seq = ${b}; UPDATE ledger_entry SET seq = ${b} WHERE seq = -1`));
    expect(await ledger.verify()).toMatchObject({ ok: false, firstBadSeq: String(a) });
  });

  it("a consistently rewritten history no longer matches the signed checkpoint", async () => {
    const { db, ledger, seqs } = await seeded();
    const cp = (await ledger.checkpoint())!;
    expect(cp.seq).toBe(String(seqs[5]));
    // Rewrite entry 2 and recompute every hash after it, as an attacker with database access could.
    const rows = await db.prisma.ledgerEntry.findMany({ orderBy: { seq: "asc" } });
    let prev = rows[1]!.hash;
    const sql: string[] = [];
    for (const r of rows.slice(2)) {
      const changed = { ...r, subject: r.seq === seqs[2] ? "someone-else" : r.subject };
      const hash = entryHash(prev, changed);
      sql.push(`UPDATE ledger_entry SET subject = '${changed.subject}', "prevHash" = '${prev}', hash = '${hash}' WHERE seq = ${r.seq}`);
      prev = hash;
    }
    await db.adminQuery(untriggered(sql.join("; ")));
    const v = await ledger.verify();
    expect(v).toMatchObject({ ok: false, firstBadSeq: cp.seq, checkpoint: { seq: cp.seq, ok: false } });
  });
});
