import type { Db, Prisma } from "@link-broker/db";

export type ClientRow = Awaited<ReturnType<Db["prisma"]["client"]["findUnique"]>> & {};

export function createClientRepo(db: Db) {
  return {
    async findById(id: string): Promise<ClientRow | null> {
      return db.prisma.client.findFirst({ where: { id, deletedAt: null } });
    },
    async create(data: Prisma.ClientCreateInput): Promise<ClientRow> {
      return db.prisma.client.create({ data });
    },
    async update(id: string, data: Prisma.ClientUpdateInput): Promise<ClientRow> {
      return db.prisma.client.update({ where: { id }, data });
    },
    /** Soft delete; the client's grants and tokens end with it. */
    async remove(id: string, now: Date): Promise<void> {
      await db.prisma.$transaction(async (tx) => {
        await tx.client.update({ where: { id }, data: { deletedAt: now } });
        await tx.grant.updateMany({ where: { clientId: id, revokedAt: null }, data: { revokedAt: now, revokedReason: "client_deleted" } });
        await tx.refreshToken.updateMany({ where: { clientId: id, revokedAt: null }, data: { revokedAt: now } });
        await tx.accessToken.updateMany({ where: { clientId: id, revokedAt: null }, data: { revokedAt: now } });
      });
    },
  };
}
export type ClientRepo = ReturnType<typeof createClientRepo>;

/**
 * Client lookups cached for a few seconds per process (the token and introspection hot paths).
 * Registration PUT/DELETE invalidate this process's entry; other processes see the change within
 * `ttlMs`, and a deleted client's tokens are revoked in the database at once anyway.
 */
export function createClientCache(repo: Pick<ClientRepo, "findById">, ttlMs = 5_000) {
  const cache = new Map<string, { row: ClientRow | null; at: number }>();
  return {
    async get(id: string): Promise<ClientRow | null> {
      const hit = cache.get(id);
      const now = Date.now();
      if (hit && now - hit.at < ttlMs) return hit.row;
      const row = await repo.findById(id);
      if (cache.size > 10_000) cache.clear();
      cache.set(id, { row, at: now });
      return row;
    },
    invalidate(id: string) {
      cache.delete(id);
    },
  };
}
export type ClientCache = ReturnType<typeof createClientCache>;
