// The ledger signing keys' table. Append-only (a trigger refuses DELETE and any change but a
// re-seal): a key retires when the next one activates, so rotation is one INSERT.
import type { Db } from "@link-broker/db";

export interface LedgerKeyRow {
  kid: string;
  alg: string;
  publicJwk: Record<string, unknown>;
  privateJwkSealed: string;
  activatedAt: Date;
}

// Any constant: serialises the first key's creation and rotations across broker processes.
const LEDGER_KEY_LOCK = 7_310_443;

export function createLedgerKeysRepo(db: Db) {
  return {
    /** Every key, in activation order (the last one is active). */
    async all(): Promise<LedgerKeyRow[]> {
      const rows = await db.prisma.ledgerSigningKey.findMany({ orderBy: [{ activatedAt: "asc" }, { kid: "asc" }] });
      return rows.map((r) => ({ ...r, publicJwk: r.publicJwk as Record<string, unknown> }));
    },
    /**
     * Under a transaction-scoped advisory lock: adds `make()` as the active key, unless `rotate`
     * is false and a key already exists (the lazy first key). Returns the active key.
     */
    async addKey(rotate: boolean, make: () => LedgerKeyRow): Promise<LedgerKeyRow> {
      return db.prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(${LEDGER_KEY_LOCK})`;
        const active = await tx.ledgerSigningKey.findFirst({ orderBy: [{ activatedAt: "desc" }, { kid: "desc" }] });
        if (active && !rotate) return { ...active, publicJwk: active.publicJwk as Record<string, unknown> };
        const key = make();
        // Activation times only move forward, whatever the clocks of the processes say.
        const activatedAt = active && active.activatedAt >= key.activatedAt ? new Date(active.activatedAt.getTime() + 1) : key.activatedAt;
        const row = await tx.ledgerSigningKey.create({ data: { ...key, activatedAt, publicJwk: key.publicJwk as object } });
        return { ...row, publicJwk: row.publicJwk as Record<string, unknown> };
      });
    },
  };
}
export type LedgerKeysRepo = ReturnType<typeof createLedgerKeysRepo>;
