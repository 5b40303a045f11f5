import type { Db } from "@link-broker/db";

/**
 * The RateLimit table: one row per key holding the count of its current window. A window starts
 * at the first hit after the previous one ended, and the database decides it, so every broker
 * process counts in the same window.
 */
export function createRateLimitRepo(db: Pick<Db, "prisma">) {
  return {
    /** Adds `hits` to the key's window (opening a new one of `windowMs` if it ended); answers the count and its end. */
    async add(key: string, hits: number, now: Date, windowMs: number): Promise<{ count: number; resetAt: Date }> {
      const resetAt = new Date(now.getTime() + windowMs);
      const rows = await db.prisma.$queryRaw<{ count: number; resetAt: Date }[]>`
        INSERT INTO rate_limit ("key", "count", "resetAt") VALUES (${key}, ${hits}, ${resetAt})
        ON CONFLICT ("key") DO UPDATE SET
          "count" = CASE WHEN rate_limit."resetAt" <= ${now} THEN EXCLUDED."count" ELSE rate_limit."count" + EXCLUDED."count" END,
          "resetAt" = CASE WHEN rate_limit."resetAt" <= ${now} THEN EXCLUDED."resetAt" ELSE rate_limit."resetAt" END
        RETURNING "count", "resetAt"`;
      const row = rows[0];
      return row ? { count: Number(row.count), resetAt: new Date(row.resetAt) } : { count: hits, resetAt };
    },
  };
}
export type RateLimitRepo = ReturnType<typeof createRateLimitRepo>;
