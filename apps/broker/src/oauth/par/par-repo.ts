import type { Db } from "@link-broker/db";

export function createParRepo(db: Db) {
  return {
    async create(row: { requestUriHash: string; clientId: string; params: object; expiresAt: Date }) {
      await db.prisma.pushedAuthorizationRequest.create({ data: row });
    },
    /** Marks the request consumed in one conditional update; returns its params only the first time. */
    async consume(requestUriHash: string, clientId: string, now: Date): Promise<unknown | undefined> {
      const { count } = await db.prisma.pushedAuthorizationRequest.updateMany({
        where: { requestUriHash, clientId, consumedAt: null, expiresAt: { gt: now } },
        data: { consumedAt: now },
      });
      if (count !== 1) return undefined;
      const row = await db.prisma.pushedAuthorizationRequest.findUnique({ where: { requestUriHash } });
      return row?.params;
    },
  };
}
export type ParRepo = ReturnType<typeof createParRepo>;
