import type { Db } from "@link-broker/db";

/** Single-use keys: an insert that succeeds once per key (never read-then-write). */
export function createReplayGuardRepo(db: Pick<Db, "prisma">) {
  return {
    async firstTime(key: string, expiresAt: Date): Promise<boolean> {
      const { count } = await db.prisma.replayGuard.createMany({ data: [{ key, expiresAt }], skipDuplicates: true });
      return count === 1;
    },

    /** Drops expired keys of one namespace (other modules keep their own). */
    async purgeExpired(namespace: string, now: Date): Promise<number> {
      const { count } = await db.prisma.replayGuard.deleteMany({ where: { key: { startsWith: `${namespace}:` }, expiresAt: { lt: now } } });
      return count;
    },
  };
}

export type ReplayGuardRepo = ReturnType<typeof createReplayGuardRepo>;
