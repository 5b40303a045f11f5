import type { Db, TotpFactor } from "@link-broker/db";

/** TOTP factors of bank customers. Every change that guards a secret is a conditional update. */
export function createTotpRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    find(clientId: string, subject: string): Promise<TotpFactor | null> {
      return prisma.totpFactor.findUnique({ where: { clientId_subject: { clientId, subject } } });
    },

    /** Creates the unconfirmed factor, or answers the one a concurrent request created. */
    async createPending(input: { id: string; clientId: string; subject: string; secretSealed: string; pendingAttemptId: string }): Promise<TotpFactor> {
      await prisma.totpFactor.createMany({ data: [input], skipDuplicates: true });
      return (await this.find(input.clientId, input.subject))!;
    },

    /**
     * Replaces an unconfirmed factor's secret for a new attempt, only while the secret is still
     * the one `previousAttemptId` made (so two requests cannot both think theirs is stored);
     * confirmed ones are never replaced. A lock stays.
     */
    async replacePending(id: string, secretSealed: string, pendingAttemptId: string, previousAttemptId: string | null): Promise<boolean> {
      const { count } = await prisma.totpFactor.updateMany({ where: { id, confirmedAt: null, pendingAttemptId: previousAttemptId }, data: { secretSealed, pendingAttemptId } });
      return count === 1;
    },

    /**
     * Accepts a time step at most once: only succeeds while no later-or-equal step has been used
     * and the factor is not locked, so two concurrent submissions of one code cannot both pass.
     */
    async useStep(id: string, step: number, now: Date): Promise<boolean> {
      const { count } = await prisma.totpFactor.updateMany({
        where: {
          id,
          OR: [{ lastUsedStep: null }, { lastUsedStep: { lt: BigInt(step) } }],
          AND: [{ OR: [{ lockedUntil: null }, { lockedUntil: { lte: now } }] }],
        },
        data: { lastUsedStep: BigInt(step), failedCount: 0, lockedUntil: null, confirmedAt: now },
      });
      return count === 1;
    },

    /** Counts a failure atomically; answers the new count. */
    async recordFailure(id: string): Promise<number> {
      const row = await prisma.totpFactor.update({ where: { id }, data: { failedCount: { increment: 1 } }, select: { failedCount: true } });
      return row.failedCount;
    },

    async lock(id: string, until: Date): Promise<void> {
      await prisma.totpFactor.update({ where: { id }, data: { lockedUntil: until, failedCount: 0 } });
    },
  };
}

export type TotpRepo = ReturnType<typeof createTotpRepo>;
