import type { Db } from "@link-broker/db";

/**
 * Single-use values (assertion and DPoP jtis): an insert into ReplayGuard, never read-then-write.
 * An expired row may be taken over, so the table does not need sweeping for correctness.
 */
export function createReplayRepo(db: Db) {
  return {
    /** True the first time `key` is seen before `expiresAt`; false on a replay. */
    async consumeOnce(key: string, expiresAt: Date, now: Date): Promise<boolean> {
      const n = await db.prisma.$executeRaw`
        INSERT INTO replay_guard ("key", "expiresAt") VALUES (${key}, ${expiresAt})
        ON CONFLICT ("key") DO UPDATE SET "expiresAt" = EXCLUDED."expiresAt"
        WHERE replay_guard."expiresAt" < ${now}`;
      return n === 1;
    },
  };
}
export type ReplayRepo = ReturnType<typeof createReplayRepo>;
