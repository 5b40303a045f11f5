// The `consent_pairs` migration on a ledger written before consents were (scope, purpose) pairs
// (ledger format 1): the old entries keep their hashes, the consent rows get the pairs of the
// format 1 rule, the whole ledger verifies three ways, and `check` answers pair by pair.
// Run on PGlite and (with DATABASE_URL) on Postgres.
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Db, isPostgresUrl, migrate, MIGRATIONS_DIR, Prisma } from "@link-broker/db";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsentLedger, entryHash, GENESIS_HASH, legacyPairs } from "../src/index.ts";
import { DAY, fakeClock, makeLedger, type TestKeys, verifyEveryWay } from "./support.ts";

const { sql } = Prisma;
const PAIRS_MIGRATION = readdirSync(MIGRATIONS_DIR).find((d) => d.endsWith("_consent_pairs"))!;

/** A database migrated up to (not including) `consent_pairs`; on Postgres its own database. */
async function databaseBeforePairs(): Promise<{ db: Db; drop(): Promise<void> }> {
  const older = mkdtempSync(join(tmpdir(), "lb-migrations-"));
  cpSync(join(MIGRATIONS_DIR, "migration_lock.toml"), join(older, "migration_lock.toml"));
  for (const d of readdirSync(MIGRATIONS_DIR, { withFileTypes: true })) if (d.isDirectory() && d.name < PAIRS_MIGRATION) cpSync(join(MIGRATIONS_DIR, d.name), join(older, d.name), { recursive: true });
  const base = process.env.DATABASE_URL;
  let db: Db;
  let drop: () => Promise<void>;
  if (isPostgresUrl(base)) {
    const name = `lb_test_${randomBytes(6).toString("hex")}`;
    const admin = async (q: string) => {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(q);
      } finally {
        await c.end();
      }
    };
    await admin(`CREATE DATABASE ${name}`);
    const url = new URL(base!);
    url.pathname = `/${name}`;
    db = await createDb({ url: url.href, poolSize: 5 });
    drop = async () => {
      await db.close();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    };
  } else {
    db = await createDb({ url: "memory://" });
    drop = () => db.close();
  }
  try {
    const { applied } = await migrate(db, { migrationsDir: older });
    expect(applied).not.toContain(PAIRS_MIGRATION);
  } finally {
    rmSync(older, { recursive: true, force: true });
  }
  return { db, drop };
}

interface OldEntry {
  consentId: string;
  action: "granted" | "withdrawn";
  subject: string;
  scopes: string[];
  purposes: string[];
}

/** Appends as the broker did before pairs: no `pairs` anywhere, hashed without it (raw SQL: the columns do not exist yet). */
async function writeFormat1(db: Db, entries: OldEntry[], start: Date) {
  let prev = GENESIS_HASH;
  let seq = 0n;
  for (const e of entries) {
    seq++;
    const recordedAt = new Date(start.getTime() + Number(seq) * 1000);
    const expiresAt = new Date(start.getTime() + 90 * DAY);
    const entry = { seq, consentId: e.consentId, action: e.action, clientId: "bank-a", subject: e.subject, linkId: `link-${e.consentId}`, psid: null, scopes: e.scopes, purposes: e.purposes, expiresAt, actor: "customer", evidence: {}, recordedAt };
    const hash = entryHash(prev, entry);
    const [at, exp] = [recordedAt.toISOString(), expiresAt.toISOString()];
    await db.prisma.$executeRaw(sql`
      INSERT INTO ledger_entry (seq, "consentId", action, "clientId", subject, "linkId", psid, scopes, purposes, "expiresAt", actor, evidence, "recordedAt", "prevHash", hash)
      VALUES (${seq}, ${e.consentId}, ${e.action}::"LedgerAction", 'bank-a', ${e.subject}, ${entry.linkId}, NULL, ${e.scopes}::text[], ${e.purposes}::text[], ${exp}::timestamp(3), 'customer', '{}'::jsonb, ${at}::timestamp(3), ${prev}, ${hash})`);
    const status = e.action === "withdrawn" ? "withdrawn" : "active";
    await db.prisma.$executeRaw(sql`
      INSERT INTO consent (id, "clientId", subject, "linkId", psid, status, scopes, purposes, "expiresAt", "grantedAt", "updatedAt", "lastSeq")
      VALUES (${e.consentId}, 'bank-a', ${e.subject}, ${entry.linkId}, NULL, ${status}, ${e.scopes}::text[], ${e.purposes}::text[], ${exp}::timestamp(3), ${at}::timestamp(3), ${at}::timestamp(3), ${seq})
      ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, "updatedAt" = EXCLUDED."updatedAt", "lastSeq" = EXCLUDED."lastSeq"`);
    prev = hash;
  }
  // The sequence behind `seq` moves on as the broker's appends moved it.
  await db.prisma.$executeRawUnsafe(`SELECT setval(pg_get_serial_sequence('ledger_entry', 'seq'), ${seq})`);
}

describe(`the consent_pairs migration on ${process.env.DATABASE_URL ? "Postgres" : "PGlite"}`, () => {
  let db: Db;
  let drop: () => Promise<void>;
  let ledger: ConsentLedger;
  let keys: TestKeys;
  const start = new Date("2026-03-01T10:00:00.000Z");
  const old: OldEntry[] = [
    // Defaults: each scope with its own purpose; the cross pair (balance:read, fraud_alerts) must go.
    { consentId: "c-defaults", action: "granted", subject: "alice", scopes: ["alerts:fraud", "balance:read"], purposes: ["account_servicing", "fraud_alerts"] },
    // A scope whose default purpose was not consented keeps the purposes it had.
    { consentId: "c-notify", action: "granted", subject: "bob", scopes: ["transactions:read"], purposes: ["transaction_notifications"] },
    { consentId: "c-mixed", action: "granted", subject: "carol", scopes: ["balance:read", "support:chat"], purposes: ["account_servicing", "fraud_alerts"] },
    { consentId: "c-gone", action: "granted", subject: "dave", scopes: ["balance:read"], purposes: ["account_servicing"] },
    { consentId: "c-gone", action: "withdrawn", subject: "dave", scopes: ["balance:read"], purposes: ["account_servicing"] },
  ];

  beforeAll(async () => {
    ({ db, drop } = await databaseBeforePairs());
    await writeFormat1(db, old, start);
    const { applied } = await migrate(db);
    expect(applied).toEqual([PAIRS_MIGRATION, ...applied.slice(1)]);
    ({ ledger, keys } = await makeLedger(db, fakeClock(new Date(start.getTime() + DAY))));
  }, 180_000);
  afterAll(async () => {
    await ledger?.close();
    await drop?.();
  });

  it("gives each consent the pairs of the format 1 rule and leaves the entries as recorded", async () => {
    const rows = await db.prisma.consent.findMany({ orderBy: { id: "asc" } });
    expect(Object.fromEntries(rows.map((r) => [r.id, r.pairs]))).toEqual({
      "c-defaults": [
        { scope: "alerts:fraud", purpose: "fraud_alerts" },
        { scope: "balance:read", purpose: "account_servicing" },
      ],
      "c-gone": [{ scope: "balance:read", purpose: "account_servicing" }],
      "c-mixed": [
        { scope: "balance:read", purpose: "account_servicing" },
        { scope: "support:chat", purpose: "account_servicing" },
        { scope: "support:chat", purpose: "fraud_alerts" },
      ],
      "c-notify": [{ scope: "transactions:read", purpose: "transaction_notifications" }],
    });
    // The SQL of the migration and the rule the verifiers replay agree.
    for (const r of rows) expect(r.pairs).toEqual(legacyPairs(r.scopes, r.purposes));
    const entries = await db.prisma.ledgerEntry.findMany({ orderBy: { seq: "asc" } });
    expect(entries.map((e) => e.pairs)).toEqual([null, null, null, null, null]);
    const { entries: history } = await ledger.get("c-defaults");
    expect(history[0]).toMatchObject({ format: 1, pairs: [{ scope: "alerts:fraud", purpose: "fraud_alerts" }, { scope: "balance:read", purpose: "account_servicing" }] });
  });

  it("verifies on the database, from the export and with the stand-alone script", async () => {
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: true, checked: 5, problem: null });
  });

  it("checks pair by pair", async () => {
    const check = (linkId: string, scope: string, purpose: string) => ledger.check({ linkId }, { scope, purpose });
    expect(await check("link-c-defaults", "balance:read", "account_servicing")).toMatchObject({ allowed: true, reason: "active" });
    expect(await check("link-c-defaults", "alerts:fraud", "fraud_alerts")).toMatchObject({ allowed: true, reason: "active" });
    expect(await check("link-c-defaults", "balance:read", "fraud_alerts")).toMatchObject({ allowed: false, reason: "scope_not_granted", consentId: "c-defaults" });
    expect(await check("link-c-notify", "transactions:read", "transaction_notifications")).toMatchObject({ allowed: true });
    expect(await check("link-c-notify", "transactions:read", "account_servicing")).toMatchObject({ allowed: false, reason: "scope_not_granted" });
    expect(await check("link-c-mixed", "balance:read", "fraud_alerts")).toMatchObject({ allowed: false, reason: "scope_not_granted" });
    expect(await check("link-c-gone", "balance:read", "account_servicing")).toMatchObject({ allowed: false, reason: "withdrawn" });
  });

  it("appends format 2 entries to migrated consents, and the mixed chain still verifies", async () => {
    await ledger.withdraw({ consentId: "c-defaults", actor: "customer" });
    const renewed = await ledger.renew({ consentId: "c-notify", actor: "bank", expiresAt: new Date(start.getTime() + 120 * DAY) });
    expect(renewed.pairs).toEqual([{ scope: "transactions:read", purpose: "transaction_notifications" }]);
    await ledger.grant({ clientId: "bank-a", subject: "erin", pairs: [{ scope: "alerts:fraud", purpose: "fraud_alerts" }], actor: "customer" });
    await ledger.checkpoint();
    const { entries } = await ledger.get("c-defaults");
    expect(entries.map((e) => e.format)).toEqual([1, 2]);
    expect(entries[1]!.pairs).toEqual(entries[0]!.pairs);
    expect(await verifyEveryWay(ledger, keys)).toMatchObject({ ok: true, checked: 8, checkpoints_verified: 1 });
    // A format 1 line has no `pairs` member; a format 2 line has it.
    let jsonl = "";
    for await (const chunk of ledger.export({ format: "jsonl" })) jsonl += chunk;
    const lines = jsonl.trim().split("\n").map((l) => JSON.parse(l)).filter((l) => l.type === undefined);
    expect(lines.map((l) => "pairs" in l)).toEqual([false, false, false, false, false, true, true, true]);
  });
});
