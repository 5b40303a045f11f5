import { type Db, Prisma } from "@link-broker/db";
import { refreshingValue, type RefreshingValue } from "../shared/refreshing-value.ts";

export type ClientRow = Awaited<ReturnType<Db["prisma"]["client"]["findUnique"]>> & {};

/** A client write as services give it: `jwks: null` clears the JSON column. */
type ClientWrite<T> = Omit<T, "jwks"> & { jwks?: object | null };
const jwksColumn = <T extends { jwks?: object | null }>(data: T) => ({ ...data, jwks: data.jwks === null ? Prisma.DbNull : data.jwks });

export function createClientRepo(db: Db) {
  return {
    async findById(id: string): Promise<ClientRow | null> {
      return db.prisma.client.findFirst({ where: { id, deletedAt: null } });
    },
    /** Every client, disabled ones too (the console and the CLI list them). */
    list(): Promise<ClientRow[]> {
      return db.prisma.client.findMany({ orderBy: { createdAt: "asc" } });
    },
    async create(data: ClientWrite<Prisma.ClientCreateInput>): Promise<ClientRow> {
      return db.prisma.client.create({ data: jwksColumn(data) as Prisma.ClientCreateInput });
    },
    async update(id: string, data: ClientWrite<Prisma.ClientUpdateInput>): Promise<ClientRow> {
      return db.prisma.client.update({ where: { id }, data: jwksColumn(data) as Prisma.ClientUpdateInput });
    },
    /** Sets an enabled client's own per-client limits (`null`: back to BROKER_RATE_LIMITS'); false when there is no such client. */
    async setRateLimits(id: string, rateLimits: object | null): Promise<boolean> {
      const { count } = await db.prisma.client.updateMany({ where: { id, deletedAt: null }, data: { rateLimits: rateLimits ?? Prisma.DbNull } });
      return count === 1;
    },
    /** Soft delete (also "disable"): the client's grants and tokens end with it, and it can start no link. */
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
 * Client lookups cached briefly per process (the token and introspection hot paths). An entry
 * older than `ttlMs` keeps answering while one background read refreshes it, so a busy client
 * never stalls on the database; one older than `maxAgeMs` is never served, so another process
 * sees a deleted or disabled client within 1 s (the bound DESIGN.md sets for withdrawals).
 * Concurrent misses share one read. Registration PUT/DELETE invalidate this process's entry at
 * once, and a deleted client's tokens are revoked in the database at once.
 */
export function createClientCache(repo: Pick<ClientRepo, "findById">, ttlMs = 500, maxAgeMs = 1_000) {
  // One refreshing value per client. Invalidating drops the client's entry, so a read that was
  // running for it lands in an entry no longer used and cannot put its older row back.
  const entries = new Map<string, RefreshingValue<ClientRow | null>>();
  return {
    get(id: string): Promise<ClientRow | null> {
      const entry = entries.get(id);
      if (entry) return entry.get();
      if (entries.size > 10_000) entries.clear();
      const created = refreshingValue(ttlMs, () => repo.findById(id), maxAgeMs);
      entries.set(id, created);
      // Only clients that exist stay cached: any caller can name any client_id, and unknown
      // ones kept here would let a flood of random ids push the real clients out.
      return created.get().then(
        (row) => {
          if (!row && entries.get(id) === created) entries.delete(id);
          return row;
        },
        (err: unknown) => {
          if (entries.get(id) === created) entries.delete(id);
          throw err;
        },
      );
    },
    /**
     * The client's row when the cache can give it without waiting, as `get` would; undefined
     * otherwise (then call `get`). The hot paths skip a promise per request with it.
     */
    cached(id: string): ClientRow | undefined {
      return entries.get(id)?.peek()?.value ?? undefined;
    },
    invalidate(id: string) {
      entries.delete(id);
    },
  };
}
export type ClientCache = ReturnType<typeof createClientCache>;
