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
 * An expired entry keeps answering while one background read refreshes it, so an expiry never
 * stalls a burst of requests on the database; concurrent misses share one read. Registration
 * PUT/DELETE invalidate this process's entry; other processes see the change within `ttlMs`
 * and one read, and a deleted client's tokens are revoked in the database at once.
 */
export function createClientCache(repo: Pick<ClientRepo, "findById">, ttlMs = 5_000) {
  const cache = new Map<string, { row: ClientRow | null; at: number }>();
  const loading = new Map<string, Promise<ClientRow | null>>();
  function load(id: string): Promise<ClientRow | null> {
    let pending = loading.get(id);
    if (!pending) {
      const read: Promise<ClientRow | null> = repo
        .findById(id)
        .then((row) => {
          // A read that an invalidation overtook must not put its older row back.
          if (loading.get(id) === read) {
            if (cache.size > 10_000) cache.clear();
            cache.set(id, { row, at: Date.now() });
          }
          return row;
        })
        .finally(() => {
          if (loading.get(id) === read) loading.delete(id);
        });
      pending = read;
      loading.set(id, pending);
    }
    return pending;
  }
  return {
    async get(id: string): Promise<ClientRow | null> {
      const hit = cache.get(id);
      if (!hit) return load(id);
      if (Date.now() - hit.at >= ttlMs) load(id).catch(() => {});
      return hit.row;
    },
    invalidate(id: string) {
      cache.delete(id);
      loading.delete(id);
    },
  };
}
export type ClientCache = ReturnType<typeof createClientCache>;
