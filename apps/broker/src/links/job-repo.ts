import { randomUUID } from "node:crypto";
import type { Db, Job, Prisma, Tx } from "@link-broker/db";

/** A claimed job and the lease that lets its claimer (and only it) complete or retry it. */
export type ClaimedJob = Job & { leaseId: string };

/** A claim only counts while no one else holds the job: unclaimed, or its lease ran out. */
const CLAIMABLE = `"doneAt" IS NULL AND ("lockedUntil" IS NULL OR "lockedUntil" <= $1)`;

/**
 * Durable work (e.g. Graph unlink calls). Runners claim due jobs with `FOR UPDATE SKIP LOCKED`
 * and a lease (a fresh `leaseId` until `lockedUntil`), so two runners never take the same job and
 * neither waits on the other's rows. Completing or retrying checks the lease: a runner whose lease
 * ran out and was taken over cannot overwrite the new claimer's outcome.
 */
export function createJobRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;

  async function claimWhere(filter: string, params: unknown[], now: Date, leaseMs: number, limit: number): Promise<ClaimedJob[]> {
    const leaseId = randomUUID();
    const until = new Date(now.getTime() + leaseMs);
    return prisma.$queryRawUnsafe<ClaimedJob[]>(
      `UPDATE "job" SET "lockedUntil" = $2, "leaseId" = $3, "attempts" = "attempts" + 1
       WHERE "id" IN (
         SELECT "id" FROM "job" WHERE ${CLAIMABLE} AND ${filter}
         ORDER BY "runAt" LIMIT ${Number(limit)} FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      now,
      until,
      leaseId,
      ...params,
    );
  }

  return {
    /** Joins the caller's transaction when given one, so the job exists exactly when its change does. */
    async enqueue(kind: string, payload: Prisma.InputJsonValue, now: Date, tx?: Tx): Promise<Job> {
      return (tx ?? prisma).job.create({ data: { id: randomUUID(), kind, payload, runAt: now } });
    },

    /**
     * Claims up to `limit` due jobs for `leaseMs`, skipping rows another runner is claiming; with
     * `kinds`, only jobs of those kinds (a runner takes only the work it has handlers for).
     */
    claimDue(now: Date, leaseMs: number, limit: number, kinds?: readonly string[]): Promise<ClaimedJob[]> {
      if (kinds) return claimWhere(`"runAt" <= $1 AND "kind" = ANY($4::text[])`, [[...kinds]], now, leaseMs, limit);
      return claimWhere(`"runAt" <= $1`, [], now, leaseMs, limit);
    },

    /** Claims one job (run it now, e.g. right after enqueueing) if nobody else holds it. */
    async claim(id: string, now: Date, leaseMs: number): Promise<ClaimedJob | null> {
      const [job] = await claimWhere(`"id" = $4`, [id], now, leaseMs, 1);
      return job ?? null;
    },

    /** Marks the job done while the lease is still ours; false when it was lost. */
    async done(job: Pick<ClaimedJob, "id" | "leaseId">, now: Date): Promise<boolean> {
      const { count } = await prisma.job.updateMany({
        where: { id: job.id, leaseId: job.leaseId, doneAt: null, lockedUntil: { gt: now } },
        data: { doneAt: now, lockedUntil: null, leaseId: null, lastError: null },
      });
      return count === 1;
    },

    /** Schedules another attempt while the lease is still ours; false when it was lost. */
    async retryLater(job: Pick<ClaimedJob, "id" | "leaseId">, now: Date, runAt: Date, error: string): Promise<boolean> {
      const { count } = await prisma.job.updateMany({
        where: { id: job.id, leaseId: job.leaseId, doneAt: null, lockedUntil: { gt: now } },
        data: { runAt, lockedUntil: null, leaseId: null, lastError: error.slice(0, 500) },
      });
      return count === 1;
    },

    /** Deletes jobs finished before `before`, at most `limit` per call. */
    async purgeDone(before: Date, limit: number): Promise<number> {
      return prisma.$executeRaw`
        DELETE FROM "job" WHERE "id" IN (
          SELECT "id" FROM "job" WHERE "doneAt" < ${before} LIMIT ${limit} FOR UPDATE SKIP LOCKED)`;
    },

    find(id: string): Promise<Job | null> {
      return prisma.job.findUnique({ where: { id } });
    },
  };
}

export type JobRepo = ReturnType<typeof createJobRepo>;
