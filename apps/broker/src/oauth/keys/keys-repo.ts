import type { Db } from "@link-broker/db";

export interface SigningKeyRow {
  kid: string;
  alg: string;
  publicJwk: unknown;
  privateJwkSealed: string;
  createdAt: Date;
  retiredAt: Date | null;
  publishUntil: Date | null;
}

// Any constant: serialises key creation and rotation across broker processes.
const KEY_LOCK = 7_310_442;

export function createKeysRepo(db: Db) {
  return {
    /** The active key and those still published at `now`, newest first. */
    async published(now: Date): Promise<SigningKeyRow[]> {
      return db.prisma.signingKey.findMany({
        where: { OR: [{ retiredAt: null }, { publishUntil: { gt: now } }] },
        orderBy: { createdAt: "desc" },
      });
    },
    async active(): Promise<SigningKeyRow | null> {
      return db.prisma.signingKey.findFirst({ where: { retiredAt: null }, orderBy: { createdAt: "desc" } });
    },
    async all(): Promise<SigningKeyRow[]> {
      return db.prisma.signingKey.findMany({ orderBy: { createdAt: "desc" } });
    },
    /**
     * Under a transaction-scoped advisory lock: when `rotate` is false, creates a key only if no
     * active key exists (lazy first key); otherwise retires the active key and adds `make()`.
     */
    async ensureOrRotate(rotate: boolean, now: Date, publishFor: number, make: () => Omit<SigningKeyRow, "createdAt" | "retiredAt" | "publishUntil" | "alg">): Promise<SigningKeyRow> {
      return db.prisma.$transaction(async (tx) => {
        await tx.$executeRaw`SELECT pg_advisory_xact_lock(${KEY_LOCK})`;
        const active = await tx.signingKey.findFirst({ where: { retiredAt: null }, orderBy: { createdAt: "desc" } });
        if (active && !rotate) return active;
        if (active) {
          await tx.signingKey.updateMany({
            where: { retiredAt: null },
            data: { retiredAt: now, publishUntil: new Date(now.getTime() + publishFor * 1000) },
          });
        }
        const key = make();
        return tx.signingKey.create({ data: { ...key, publicJwk: key.publicJwk as object, alg: "ES256", createdAt: now } });
      });
    },
  };
}
export type KeysRepo = ReturnType<typeof createKeysRepo>;
