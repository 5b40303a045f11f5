import type { Db } from "@link-broker/db";

/**
 * Fixed-window counters in the shared `rate_limit` table, so every broker process sees the same
 * count. `hit` answers whether the request is within the limit.
 */
export function createRateLimitRepo(db: Pick<Db, "prisma">) {
  return {
    async hit(key: string, limit: number, windowMs: number, now: Date): Promise<{ allowed: boolean; resetAt: Date }> {
      const resetAt = new Date(now.getTime() + windowMs);
      const rows = await db.prisma.$queryRaw<{ count: number; resetAt: Date }[]>`
        INSERT INTO rate_limit ("key", "count", "resetAt") VALUES (${key}, 1, ${resetAt})
        ON CONFLICT ("key") DO UPDATE SET
          "count" = CASE WHEN rate_limit."resetAt" <= ${now} THEN 1 ELSE rate_limit."count" + 1 END,
          "resetAt" = CASE WHEN rate_limit."resetAt" <= ${now} THEN ${resetAt} ELSE rate_limit."resetAt" END
        RETURNING "count", "resetAt"`;
      const row = rows[0]!;
      return { allowed: Number(row.count) <= limit, resetAt: new Date(row.resetAt) };
    },
  };
}
export type RateLimitRepo = ReturnType<typeof createRateLimitRepo>;
