import type { Db } from "@link-broker/db";

/** Single-use keys: an insert that succeeds once per key (never read-then-write). */
export function createReplayGuardRepo(db: Pick<Db, "prisma">) {
  return {
    async firstTime(key: string, expiresAt: Date): Promise<boolean> {
      const { count } = await db.prisma.replayGuard.createMany({ data: [{ key, expiresAt }], skipDuplicates: true });
      return count === 1;
    },
  };
}

export type ReplayGuardRepo = ReturnType<typeof createReplayGuardRepo>;
