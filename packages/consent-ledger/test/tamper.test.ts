// Tamper detection: triggers are disabled as the table owner, history, checkpoints or the
// projection are changed, and verify must name the first bad seq and the problem. Every case is
// verified three ways (database, export verifier, stand-alone script), which must agree. Each
// case gets its own database.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import { afterEach, describe, expect, it } from "vitest";
import { CHECKPOINT_TYP, entryHash, signLedgerJws, type ConsentLedger, type LedgerKeySet } from "../src/index.ts";
import { createEphemeralLedgerKeys } from "../src/testing.ts";
import { DAY, fakeClock, makeLedger, verifyEveryWay, type TestKeys } from "./support.ts";

let db: TestDb | undefined;
let ledger: ConsentLedger | undefined;
afterEach(async () => {
  await ledger?.close();
  await db?.drop();
  db = undefined;
  ledger = undefined;
});

/** A ledger with `count` grants; returns their seqs in order. */
async function seeded(count = 6, options: { checkpointFile?: string } = {}) {
  db = await createTestDb();
  let keys: TestKeys;
  let clock: Awaited<ReturnType<typeof makeLedger>>["clock"];
  ({ ledger, keys, clock } = await makeLedger(db, undefined, undefined, options));
  for (let i = 0; i < count; i++) await ledger.grant({ clientId: "bank-a", subject: `cust-${i}`, scopes: ["balance:read"], actor: "customer" });
  const seqs = (await db.prisma.ledgerEntry.findMany({ orderBy: { seq: "asc" }, select: { seq: true } })).map((e) => e.seq);
  expect((await ledger.verify()).ok).toBe(true);
  return { db, ledger, keys, clock, seqs };
}

const untriggered = (sql: string, table = "ledger_entry") => `ALTER TABLE ${table} DISABLE TRIGGER USER; ${sql}; ALTER TABLE ${table} ENABLE TRIGGER USER;`;

/** Rewrites entry `at` (another subject) and recomputes every hash after it, as someone with database access could. */
async function rewriteAndRehash(db: TestDb, at: bigint) {
  const rows = await db.prisma.ledgerEntry.findMany({ orderBy: { seq: "asc" } });
  const i = rows.findIndex((r) => r.seq === at);
  let prev = rows[i - 1]?.hash ?? "0".repeat(64);
  const sql: string[] = [];
  for (const r of rows.slice(i)) {
    const changed = { ...r, subject: r.seq === at ? "someone-else" : r.subject };
    const hash = entryHash(prev, changed);
    sql.push(`UPDATE ledger_entry SET subject = '${changed.subject}', "prevHash" = '${prev}', hash = '${hash}' WHERE seq = ${r.seq}`);
    prev = hash;
  }
  await db.adminQuery(untriggered(sql.join("; ")));
  return prev;
}

describe("the database refuses changes", () => {
  it("refuses UPDATE, DELETE and TRUNCATE on entries and checkpoints while the triggers are on", async () => {
    const { db, ledger } = await seeded(1);
    await ledger.checkpoint();
    for (const table of ["ledger_entry", "ledger_checkpoint"]) {
      await expect(db.prisma.$executeRawUnsafe(`UPDATE ${table} SET seq = seq + 1000`)).rejects.toThrow(/append-only/);
      await expect(db.prisma.$executeRawUnsafe(`DELETE FROM ${table}`)).rejects.toThrow(/append-only/);
      await expect(db.prisma.$executeRawUnsafe(`TRUNCATE ${table} CASCADE`)).rejects.toThrow(/append-only/);
    }
    expect(await db.prisma.ledgerCheckpoint.count()).toBe(1);
  });
});

describe("tamper detection", () => {
  it("names the seq of a changed middle entry: hash_mismatch", async () => {
    const { db, ledger, keys, seqs } = await seeded();
    await db.adminQuery(untriggered(`UPDATE ledger_entry SET scopes = ARRAY['balance:read','transactions:read'] WHERE seq = ${seqs[3]}`));
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: String(seqs[3]), problem: "hash_mismatch", checked: 4, head_seq: String(seqs[2]) });
  });

  it("names an entry whose pairs were widened, or dropped to pass for a format 1 entry: hash_mismatch", async () => {
    const { db, ledger, keys, seqs } = await seeded();
    await db.adminQuery(untriggered(`UPDATE ledger_entry SET pairs = '[{"scope":"balance:read","purpose":"account_servicing"},{"scope":"balance:read","purpose":"fraud_alerts"}]' WHERE seq = ${seqs[4]}`));
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: String(seqs[4]), problem: "hash_mismatch" });
    await db.adminQuery(untriggered(`UPDATE ledger_entry SET pairs = NULL WHERE seq = ${seqs[2]}`));
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: String(seqs[2]), problem: "hash_mismatch" });
  });

  it("names the seq after a deleted entry: broken_link", async () => {
    const { db, ledger, keys, seqs } = await seeded();
    await db.adminQuery(untriggered(`DELETE FROM ledger_entry WHERE seq = ${seqs[2]}`));
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: String(seqs[3]), problem: "broken_link" });
  });

  it("names a forged inserted entry", async () => {
    const { db, ledger, keys, seqs } = await seeded();
    const prev = (await db.prisma.ledgerEntry.findUnique({ where: { seq: seqs[5]! } }))!;
    // Appended after the head, linking to it, but its hash was not computed from its content.
    await db.adminQuery(
      `INSERT INTO ledger_entry (seq, "consentId", action, "clientId", subject, scopes, purposes, "expiresAt", actor, evidence, "recordedAt", "prevHash", hash)
       VALUES (${seqs[5]! + 100n}, 'forged', 'granted', 'bank-a', 'mallory', ARRAY['balance:read'], ARRAY['account_servicing'], now() + interval '1 day', 'customer', '{}', now(), '${prev.hash}', '${"f".repeat(64)}')`,
    );
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: String(seqs[5]! + 100n), problem: "hash_mismatch" });
  });

  it("names the entry after a correctly hashed forgery slipped into a gap", async () => {
    db = await createTestDb();
    let keys: TestKeys;
    ({ ledger, keys } = await makeLedger(db));
    const l = ledger;
    const grant = (subject: string) => l.grant({ clientId: "bank-a", subject, scopes: ["balance:read"], actor: "customer" });
    const a = await grant("a");
    // A rolled-back grant burns a seq: seqs are not contiguous, and the gap is where a forger aims.
    await db
      .transaction(async (tx) => {
        await l.grant({ clientId: "bank-a", subject: "rolled-back", scopes: ["balance:read"], actor: "customer" }, { tx });
        throw new Error("rollback");
      })
      .catch(() => {});
    const b = await grant("b");
    const gap = BigInt(a.seq) + 1n;
    expect(BigInt(b.seq)).toBe(gap + 1n);
    const forged = { seq: gap, consentId: "forged", action: "granted", clientId: "bank-a", subject: "mallory", linkId: null, psid: null, scopes: ["balance:read"], purposes: ["account_servicing"], expiresAt: new Date("2026-05-01T00:00:00.000Z"), actor: "customer", evidence: {}, recordedAt: new Date("2026-03-01T10:00:00.000Z") };
    await db.adminQuery(
      `INSERT INTO ledger_entry (seq, "consentId", action, "clientId", subject, scopes, purposes, "expiresAt", actor, evidence, "recordedAt", "prevHash", hash)
       VALUES (${gap}, 'forged', 'granted', 'bank-a', 'mallory', ARRAY['balance:read'], ARRAY['account_servicing'], '2026-05-01T00:00:00.000Z', 'customer', '{}', '2026-03-01T10:00:00.000Z', '${a.hash}', '${entryHash(a.hash, forged)}')`,
    );
    // The forgery itself is self-consistent; the real entry after it no longer links.
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: b.seq, problem: "broken_link" });
  });

  it("names the first of two entries whose seqs were swapped", async () => {
    const { db, ledger, keys, seqs } = await seeded();
    const [a, b] = [seqs[2]!, seqs[3]!];
    await db.adminQuery(untriggered(`UPDATE ledger_entry SET seq = -1 WHERE seq = ${a}; UPDATE ledger_entry SET seq = ${a} WHERE seq = ${b}; UPDATE ledger_entry SET seq = ${b} WHERE seq = -1`));
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: String(a) });
  });
});

describe("signed checkpoints", () => {
  it("history rewritten and rehashed, the checkpoint left alone: checkpoint_mismatch", async () => {
    const { db, ledger, keys, seqs } = await seeded();
    const cp = (await ledger.checkpoint())!;
    expect(cp.seq).toBe(String(seqs[5]));
    await rewriteAndRehash(db, seqs[2]!);
    expect(await verifyEveryWay(ledger, keys)).toEqual({
      ok: false,
      checked: 6,
      head_seq: cp.seq,
      head_hash: expect.not.stringMatching(cp.headHash),
      checkpoints_verified: 0,
      first_bad_seq: cp.seq,
      problem: "checkpoint_mismatch",
    });
  });

  for (const forger of ["a key with a kid of its own", "a key that reuses the ledger key's kid"]) {
    it(`history rewritten and rehashed, the checkpoint row re-signed with ${forger}: checkpoint_signature`, async () => {
      const { db, ledger, keys, clock, seqs } = await seeded();
      const cp = (await ledger.checkpoint())!;
      const head = await rewriteAndRehash(db, seqs[1]!);
      // A signature by a key that is not a ledger key, over exactly what the ledger would sign.
      const { privateKey } = generateKeyPairSync("ed25519");
      const kid = forger.includes("reuses") ? cp.kid : "access-token-key";
      const jws = await signLedgerJws(privateKey, { alg: "EdDSA", kid, typ: CHECKPOINT_TYP }, { seq: cp.seq, head_hash: head, iat: Math.floor(clock.now().getTime() / 1000) });
      await db.adminQuery(
        untriggered(`DELETE FROM ledger_checkpoint; INSERT INTO ledger_checkpoint (seq, "headHash", kid, jws) VALUES (${cp.seq}, '${head}', '${kid}', '${jws}')`, "ledger_checkpoint"),
      );
      expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: cp.seq, problem: "checkpoint_signature", checkpoints_verified: 0 });
    });
  }

  it("a checkpoint beyond the chain (entries cut off the end): missing_entry", async () => {
    const { db, ledger, keys, seqs } = await seeded();
    const cp = (await ledger.checkpoint())!;
    await db.adminQuery(untriggered(`DELETE FROM ledger_entry WHERE seq >= ${seqs[4]}`));
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, first_bad_seq: cp.seq, problem: "missing_entry", checked: 4 });
  });

  it("an honest ledger of a hundred consents across two ledger-key rotations verifies", async () => {
    const { db, ledger, keys, clock } = await seeded(0);
    const granted: string[] = [];
    for (let round = 0; round < 3; round++) {
      if (round > 0) {
        clock.advance(DAY);
        keys.rotate();
      }
      for (let i = 0; i < 34 && granted.length < 100; i++) {
        const g = await ledger.grant({ clientId: round === 1 ? "bank-b" : "bank-a", subject: `r${round}-c${i}`, linkId: `l-${round}-${i}`, scopes: ["balance:read", "alerts:fraud"], actor: "customer", evidence: { second_factor: "totp", n: i, note: "=1+2 ünïcode 😀" } });
        granted.push(g.consentId);
        if (i % 7 === 3) await ledger.renew({ consentId: g.consentId, expiresAt: new Date(clock.now().getTime() + 200 * DAY), actor: "bank" });
        if (i % 5 === 0) await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
        clock.advance(60_000);
      }
      await ledger.checkpoint();
    }
    expect(granted).toHaveLength(100);
    const published = await keys.published();
    expect(published.keys.map((k) => k.retired_at === null)).toEqual([false, false, true]);
    expect(new Set((await db.prisma.ledgerCheckpoint.findMany()).map((c) => c.kid)).size).toBe(3);
    const entries = await db.prisma.ledgerEntry.count();
    expect(await verifyEveryWay(ledger, keys)).toEqual({ ok: true, checked: entries, head_seq: expect.any(String), head_hash: expect.stringMatching(/^[0-9a-f]{64}$/), checkpoints_verified: 3, first_bad_seq: null, problem: null });
  }, 120_000);
});

describe("anchoring outside the database (LEDGER_CHECKPOINT_FILE)", () => {
  it("appends each signed checkpoint; the file catches a rewrite whose database checkpoints were deleted", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "lb-anchor-")), "checkpoints.jsonl");
    const { db, ledger, keys, seqs } = await seeded(6, { checkpointFile: file });
    const cp = (await ledger.checkpoint())!;
    await ledger.checkpoint(); // the head has not moved: nothing new is signed or appended
    expect(readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l))).toEqual([{ type: "checkpoint", seq: cp.seq, head_hash: cp.headHash, kid: cp.kid, jws: cp.jws }]);
    expect(await verifyEveryWay(ledger, keys, file)).toMatchObject({ ok: true, checkpoints_verified: 1 });
    // A thorough rewrite: the chain rehashed, the projection row to match, the checkpoints gone.
    await rewriteAndRehash(db, seqs[0]!);
    await db.adminQuery(`UPDATE consent SET subject = 'someone-else' WHERE "lastSeq" = ${seqs[0]}`);
    await db.adminQuery(untriggered("DELETE FROM ledger_checkpoint", "ledger_checkpoint"));
    // Without the file the rewrite is consistent; with it, the shipped checkpoint disagrees.
    expect((await ledger.verify()).ok).toBe(true);
    expect(await verifyEveryWay(ledger, keys, file)).toMatchObject({ ok: false, first_bad_seq: cp.seq, problem: "checkpoint_mismatch" });
  });

  it("the file catches entries cut off the end with their checkpoints", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "lb-anchor-")), "checkpoints.jsonl");
    const { db, ledger, keys, seqs } = await seeded(6, { checkpointFile: file });
    const cp = (await ledger.checkpoint())!;
    await db.adminQuery(untriggered(`DELETE FROM ledger_entry WHERE seq > ${seqs[2]}`));
    await db.adminQuery(untriggered("DELETE FROM ledger_checkpoint", "ledger_checkpoint"));
    await db.adminQuery(`DELETE FROM consent WHERE "lastSeq" > ${seqs[2]}`);
    expect(await verifyEveryWay(ledger, keys, file)).toMatchObject({ ok: false, first_bad_seq: cp.seq, problem: "missing_entry" });
  });
});

describe("the consent projection", () => {
  it("a projection row edited: projection_mismatch with the consent id", async () => {
    const { db, ledger, keys } = await seeded(4);
    const consents = await db.prisma.consent.findMany({ orderBy: { lastSeq: "asc" } });
    await ledger.withdraw({ consentId: consents[1]!.id, actor: "customer" });
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: true });
    // Someone revives a withdrawn consent in the table `check` answers from.
    await db.adminQuery(`UPDATE consent SET status = 'active' WHERE id = '${consents[1]!.id}'`);
    const v = await verifyEveryWay(ledger, keys);
    expect(v).toMatchObject({ ok: false, problem: "projection_mismatch", consent_id: consents[1]!.id });
    expect(v.first_bad_seq).toBe((await db.prisma.consent.findUnique({ where: { id: consents[1]!.id } }))!.lastSeq.toString());
  });

  it("a pair added to a projection row (what `check` answers from): projection_mismatch", async () => {
    const { db, ledger, keys } = await seeded(3);
    const [, second] = await db.prisma.consent.findMany({ orderBy: { lastSeq: "asc" } });
    await db.adminQuery(`UPDATE consent SET pairs = pairs || '[{"scope":"balance:read","purpose":"fraud_alerts"}]'::jsonb WHERE id = '${second!.id}'`);
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, problem: "projection_mismatch", consent_id: second!.id, first_bad_seq: second!.lastSeq.toString() });
  });

  it("names a projection row with no entries, and a consent whose row is gone", async () => {
    const { db, ledger, keys } = await seeded(3);
    const [first] = await db.prisma.consent.findMany({ orderBy: { lastSeq: "asc" } });
    await db.adminQuery(`DELETE FROM consent WHERE id = '${first!.id}'`);
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, problem: "projection_mismatch", consent_id: first!.id, first_bad_seq: first!.lastSeq.toString() });
    await db.adminQuery(
      `INSERT INTO consent (id, "clientId", subject, status, scopes, purposes, "expiresAt", "grantedAt", "updatedAt", "lastSeq") SELECT 'invented', 'bank-a', 'mallory', 'active', ARRAY['balance:read'], ARRAY['account_servicing'], now() + interval '1 day', now(), now(), 0`,
    );
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: false, problem: "projection_mismatch", consent_id: "invented", first_bad_seq: "0" });
  });
});

describe("verify on the database", () => {
  it("reads past its batches: more than a thousand entries and five hundred consents, the last of each checked", async () => {
    const { db, ledger } = await seeded(0);
    // 501 grants and 500 withdrawals: 1,001 entries (two entry batches), 501 consents (two row batches).
    for (let i = 0; i < 501; i++) {
      const g = await ledger.grant({ clientId: "bank-a", subject: `bulk-${i}`, scopes: ["balance:read"], actor: "customer" });
      if (i > 0) await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    }
    const last = (await db.prisma.ledgerEntry.findFirst({ orderBy: { seq: "desc" } }))!;
    expect(await ledger.verify()).toMatchObject({ ok: true, checked: 1001, headSeq: last.seq.toString(), headHash: last.hash });
    // The consent that sorts last by id sits in the second batch of rows.
    const lastRow = (await db.prisma.consent.findFirst({ orderBy: { id: "desc" } }))!;
    await db.adminQuery(`UPDATE consent SET subject = 'someone-else' WHERE id = '${lastRow.id}'`);
    expect(await ledger.verify()).toMatchObject({ ok: false, checked: 1001, problem: "projection_mismatch", consentId: lastRow.id, firstBadSeq: lastRow.lastSeq.toString() });
    await db.adminQuery(`UPDATE consent SET subject = '${lastRow.subject}' WHERE id = '${lastRow.id}'`);
    // The newest entry sits in the second batch of entries.
    await db.adminQuery(untriggered(`UPDATE ledger_entry SET actor = 'bank' WHERE seq = ${last.seq}`));
    expect(await ledger.verify()).toMatchObject({ ok: false, checked: 1001, problem: "hash_mismatch", firstBadSeq: last.seq.toString() });
  }, 180_000);

  it("a ledger key rotated while verify read the keys: it reads them again once, and the new key's checkpoint verifies", async () => {
    db = await createTestDb();
    const clock = fakeClock();
    const keys = createEphemeralLedgerKeys({ clock });
    // A key list read just before the rotation, handed out once: what a verify racing a rotation sees.
    let stale: LedgerKeySet | null = null;
    let reads = 0;
    const racing: TestKeys = {
      ...keys,
      async published() {
        reads++;
        const s = stale;
        stale = null;
        return s ?? keys.published();
      },
    };
    ({ ledger } = await makeLedger(db, clock, racing));
    await ledger.grant({ clientId: "bank-a", subject: "cust-1", scopes: ["balance:read"], actor: "customer" });
    await ledger.checkpoint();
    stale = await keys.published();
    clock.advance(DAY);
    keys.rotate();
    await ledger.grant({ clientId: "bank-a", subject: "cust-2", scopes: ["balance:read"], actor: "customer" });
    await ledger.checkpoint();
    reads = 0;
    expect(await ledger.verify()).toMatchObject({ ok: true, checked: 2, checkpointsVerified: 2 });
    expect(reads).toBe(2);
    // Anchored checkpoints are kept for the second reading too: a forged one still fails.
    const forged = { seq: "2", headHash: "f".repeat(64), kid: "ledger-test-2", jws: "a.b.c" };
    stale = { keys: (await keys.published()).keys.slice(0, 1) };
    expect(await ledger.verify({ checkpoints: [forged] })).toMatchObject({ ok: false, problem: "checkpoint_signature", firstBadSeq: "2" });
    // An honest ledger whose keys were read fresh verifies with one reading.
    reads = 0;
    expect(await ledger.verify()).toMatchObject({ ok: true });
    expect(reads).toBe(1);
  });
});
