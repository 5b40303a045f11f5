import type { Db } from "@link-broker/db";

/**
 * Deletes OAuth rows that can no longer matter: replay guards and rate-limit windows past their
 * expiry, pushed requests, and authorization codes a day after expiry (kept that long so a late
 * replay still finds the code and revokes what it issued). Idempotent; any process may run it.
 */
export function createSweepRepo(db: Db) {
  return {
    async sweep(now: Date): Promise<number> {
      const dayAgo = new Date(now.getTime() - 24 * 3600_000);
      const results = await db.prisma.$transaction([
        db.prisma.replayGuard.deleteMany({ where: { expiresAt: { lt: now } } }),
        db.prisma.rateLimit.deleteMany({ where: { resetAt: { lt: dayAgo } } }),
        db.prisma.pushedAuthorizationRequest.deleteMany({ where: { expiresAt: { lt: dayAgo } } }),
        db.prisma.authorizationCode.deleteMany({ where: { expiresAt: { lt: dayAgo } } }),
        db.prisma.accessToken.deleteMany({ where: { expiresAt: { lt: dayAgo } } }),
      ]);
      return results.reduce((n, r) => n + r.count, 0);
    },
  };
}
