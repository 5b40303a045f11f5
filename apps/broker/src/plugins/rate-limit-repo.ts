import type { Db, Statement } from "@link-broker/db";

// Every rate-limited request that the database counts runs it: a prepared statement (Db.sql).
const ADD: Statement = {
  name: "lb_rate_limit_add",
  text: `INSERT INTO rate_limit ("key", "count", "resetAt") VALUES ($1, $2, $3::timestamp(3))
    ON CONFLICT ("key") DO UPDATE SET
      "count" = CASE WHEN rate_limit."resetAt" <= $4::timestamp(3) THEN EXCLUDED."count" ELSE rate_limit."count" + EXCLUDED."count" END,
      "resetAt" = CASE WHEN rate_limit."resetAt" <= $4::timestamp(3) THEN EXCLUDED."resetAt" ELSE rate_limit."resetAt" END
    RETURNING "count", "resetAt"`,
};

/**
 * The RateLimit table: one row per key holding the count of its current window. A window starts
 * at the first hit after the previous one ended, and the database decides it, so every broker
 * process counts in the same window.
 */
export function createRateLimitRepo(db: Pick<Db, "sql">) {
  return {
    /** Adds `hits` to the key's window (opening a new one of `windowMs` if it ended); answers the count and its end. */
    async add(key: string, hits: number, now: Date, windowMs: number): Promise<{ count: number; resetAt: Date }> {
      const resetAt = new Date(now.getTime() + windowMs);
      const rows = await db.sql<{ count: number; resetAt: Date }>(ADD, [key, hits, resetAt, now]);
      const row = rows[0];
      return row ? { count: row.count, resetAt: row.resetAt } : { count: hits, resetAt };
    },
  };
}
export type RateLimitRepo = ReturnType<typeof createRateLimitRepo>;
