import { randomUUID } from "node:crypto";
import type { Db, Job, Prisma } from "@link-broker/db";

/** Durable work (e.g. Graph unlink calls): claimed with a lease, retried with backoff. */
export function createJobRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    async enqueue(kind: string, payload: Prisma.InputJsonValue, now: Date): Promise<Job> {
      return prisma.job.create({ data: { id: randomUUID(), kind, payload, runAt: now } });
    },

    /** Claims one job for `leaseMs` if nobody else holds it; answers it or null. */
    async claim(id: string, now: Date, leaseMs: number): Promise<Job | null> {
      const { count } = await prisma.job.updateMany({
        where: { id, doneAt: null, OR: [{ lockedUntil: null }, { lockedUntil: { lte: now } }] },
        data: { lockedUntil: new Date(now.getTime() + leaseMs), attempts: { increment: 1 } },
      });
      return count === 1 ? prisma.job.findUnique({ where: { id } }) : null;
    },

    due(now: Date, limit: number): Promise<Pick<Job, "id">[]> {
      return prisma.job.findMany({
        where: { doneAt: null, runAt: { lte: now }, OR: [{ lockedUntil: null }, { lockedUntil: { lte: now } }] },
        orderBy: { runAt: "asc" },
        take: limit,
        select: { id: true },
      });
    },

    async done(id: string, now: Date): Promise<void> {
      await prisma.job.update({ where: { id }, data: { doneAt: now, lockedUntil: null, lastError: null } });
    },

    async retryLater(id: string, runAt: Date, error: string): Promise<void> {
      await prisma.job.update({ where: { id }, data: { runAt, lockedUntil: null, lastError: error.slice(0, 500) } });
    },

    find(id: string): Promise<Job | null> {
      return prisma.job.findUnique({ where: { id } });
    },
  };
}

export type JobRepo = ReturnType<typeof createJobRepo>;
