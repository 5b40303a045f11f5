// Least privilege: with prisma/runtime-role.sql applied, the broker's runtime role appends to the
// ledger and reads it, and can neither change nor remove ledger rows, checkpoints or ledger keys,
// nor disable or drop their triggers. On Postgres the role logs in with its own connection; on
// PGlite (one session, one login) the same grants are checked with SET ROLE.
import { randomBytes } from "node:crypto";
import { createDb, type Db, runtimeRoleSql } from "@link-broker/db";
import { createTestDb, type TestDb } from "@link-broker/db/testing";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConsentLedger } from "../src/index.ts";
import { makeLedger, type TestKeys } from "./support.ts";

const role = `lb_runtime_${randomBytes(4).toString("hex")}`;
let owner: TestDb;
let runtime: Db;
let ledger: ConsentLedger;
let keys: TestKeys;
/** Runs SQL as the runtime role. */
let asRuntime: (sql: string) => Promise<unknown>;

beforeAll(async () => {
  owner = await createTestDb();
  await owner.adminQuery(`CREATE ROLE ${role} ${owner.kind === "postgres" ? "LOGIN" : ""}`);
  await owner.adminQuery(runtimeRoleSql(role));
  if (owner.kind === "postgres") {
    const url = new URL(owner.url!);
    url.username = role;
    url.password = "";
    runtime = await createDb({ url: url.href, poolSize: 4 });
    asRuntime = (sql) => runtime.prisma.$executeRawUnsafe(sql);
  } else {
    // Every later statement of this PGlite session, the ledger's included, runs as the role.
    await owner.adminQuery(`SET ROLE ${role}`);
    runtime = owner;
    asRuntime = (sql) => owner.pglite!.exec(sql);
  }
  ({ ledger, keys } = await makeLedger(runtime));
});

afterAll(async () => {
  await ledger?.close();
  if (owner?.kind === "postgres") {
    await runtime?.close();
    await owner.drop();
    const c = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await c.connect();
    await c.query(`DROP ROLE IF EXISTS ${role}`).finally(() => c.end());
  } else {
    await owner?.drop();
  }
});

const CHANGE: Record<string, string> = { ledger_entry: "actor = 'bank'", ledger_checkpoint: `"headHash" = 'x'`, ledger_signing_key: "alg = 'ES256'" };

describe("the broker's runtime role", () => {
  it("runs the ledger: grants, withdrawals, checkpoints and verify", async () => {
    expect(await runtime.prisma.$queryRawUnsafe<{ u: string }[]>("SELECT current_user AS u")).toEqual([{ u: role }]);
    const g = await ledger.grant({ clientId: "bank-a", subject: "alice", scopes: ["balance:read"], actor: "customer" });
    await ledger.withdraw({ consentId: g.consentId, actor: "customer" });
    await ledger.grant({ clientId: "bank-a", subject: "bob", scopes: ["alerts:fraud"], actor: "customer" });
    expect(await ledger.checkpoint()).toMatchObject({ seq: expect.any(String) });
    expect(await ledger.verify()).toMatchObject({ ok: true, checked: 3, checkpointsVerified: 1 });
    expect((await keys.published()).keys).toHaveLength(1);
  });

  for (const table of ["ledger_entry", "ledger_checkpoint", "ledger_signing_key"]) {
    it(`cannot UPDATE, DELETE or TRUNCATE ${table}, nor disable or drop its triggers`, async () => {
      if (table === "ledger_signing_key") await asRuntime(`INSERT INTO ledger_signing_key (kid, "publicJwk", "privateJwkSealed", "activatedAt") VALUES ('k-${table}', '{}', 'sealed', now())`);
      for (const sql of [`UPDATE ${table} SET ${CHANGE[table]}`, `DELETE FROM ${table}`, `TRUNCATE ${table}`]) {
        await expect(asRuntime(sql), sql).rejects.toThrow(/permission denied/);
      }
      for (const sql of [`ALTER TABLE ${table} DISABLE TRIGGER USER`, `ALTER TABLE ${table} DISABLE TRIGGER ALL`, `DROP TRIGGER ${table}_no_update_delete ON ${table}`, `ALTER TABLE ${table} OWNER TO ${role}`]) {
        await expect(asRuntime(sql), sql).rejects.toThrow(/must be owner|permission denied/);
      }
      await expect(asRuntime(`CREATE TRIGGER sneaky BEFORE INSERT ON ${table} FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()`)).rejects.toThrow(/permission denied|must be owner/);
    });
  }

  it("cannot touch the migrations table, and the ledger still verifies after every attempt", async () => {
    await expect(asRuntime(`DELETE FROM _prisma_migrations`)).rejects.toThrow(/permission denied/);
    await expect(asRuntime(`INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at) VALUES ('x', 'x', 'x', now())`)).rejects.toThrow(/permission denied/);
    expect(await ledger.verify()).toMatchObject({ ok: true, checked: 3 });
  });
});
