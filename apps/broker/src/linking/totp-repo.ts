import type { Db, TotpFactor } from "@link-broker/db";

/** TOTP factors of bank customers. Every change that guards a secret is a conditional update. */
export function createTotpRepo(db: Pick<Db, "prisma">) {
  const { prisma } = db;
  return {
    find(clientId: string, subject: string): Promise<TotpFactor | null> {
      return prisma.totpFactor.findUnique({ where: { clientId_subject: { clientId, subject } } });
    },

    /** Creates the unconfirmed factor, or answers the one a concurrent request created (read only then). */
    async createPending(input: { id: string; clientId: string; subject: string; secretSealed: string; pendingAttemptId: string }): Promise<TotpFactor> {
      const [created] = await prisma.totpFactor.createManyAndReturn({ data: [input], skipDuplicates: true });
      return created ?? (await this.find(input.clientId, input.subject))!;
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

    /**
     * Claims one try before a code is checked: counts it as a failure, in one conditional update
     * that only succeeds while the factor is unlocked and has tries left. Answers the new count,
     * or undefined when no try is left (locked, or the last tries are still being checked).
     */
    async claimTry(id: string, maxFailures: number, now: Date): Promise<number | undefined> {
      const rows = await prisma.$queryRaw<{ failedCount: number }[]>`
        UPDATE totp_factor SET "failedCount" = "failedCount" + 1, "updatedAt" = ${now}
        WHERE id = ${id} AND "failedCount" < ${maxFailures} AND ("lockedUntil" IS NULL OR "lockedUntil" <= ${now})
        RETURNING "failedCount"`;
      return rows[0] ? Number(rows[0].failedCount) : undefined;
    },

    /** A recovery code proved right: the tries counted so far are forgiven. */
    async clearFailures(id: string): Promise<void> {
      await prisma.totpFactor.updateMany({ where: { id }, data: { failedCount: 0 } });
    },

    /** The last try failed: lock, once, only while the tries are still spent. */
    async lockSpent(id: string, maxFailures: number, until: Date): Promise<void> {
      await prisma.totpFactor.updateMany({ where: { id, failedCount: { gte: maxFailures } }, data: { lockedUntil: until, failedCount: 0 } });
    },

    /**
     * Replaces a factor's recovery codes (a new enrolment shows new ones; old ones stop working),
     * in one statement: one round trip and one commit instead of a transaction's four.
     */
    async replaceRecoveryCodes(factorId: string, codes: { id: string; codeHash: string }[]): Promise<void> {
      const ids = codes.map((c) => c.id);
      const hashes = codes.map((c) => c.codeHash);
      await prisma.$executeRaw`
        WITH gone AS (DELETE FROM totp_recovery_code WHERE "factorId" = ${factorId})
        INSERT INTO totp_recovery_code ("id", "factorId", "codeHash", "createdAt")
        SELECT id, ${factorId}, hash, ${new Date()}::timestamp(3) FROM unnest(${ids}::text[], ${hashes}::text[]) AS c(id, hash)`;
    },

    /** Spends a recovery code: one conditional update, so a code works once even when raced. */
    async useRecoveryCode(factorId: string, codeHash: string, now: Date): Promise<boolean> {
      const { count } = await prisma.totpRecoveryCode.updateMany({ where: { factorId, codeHash, usedAt: null }, data: { usedAt: now } });
      return count === 1;
    },

    /** Unused recovery codes left on a factor. */
    unusedRecoveryCodes(factorId: string): Promise<number> {
      return prisma.totpRecoveryCode.count({ where: { factorId, usedAt: null } });
    },

    /** Removes a customer's factor and its recovery codes; the next link enrols a new one. */
    async remove(clientId: string, subject: string): Promise<{ id: string } | null> {
      return prisma.$transaction(async (tx) => {
        const factor = await tx.totpFactor.findUnique({ where: { clientId_subject: { clientId, subject } }, select: { id: true } });
        if (!factor) return null;
        await tx.totpRecoveryCode.deleteMany({ where: { factorId: factor.id } });
        await tx.totpFactor.delete({ where: { id: factor.id } });
        return factor;
      });
    },
  };
}

export type TotpRepo = ReturnType<typeof createTotpRepo>;
