import type { Db, Statement, TotpFactor } from "@link-broker/db";

// The linking flow's second-factor steps: prepared statements (Db.sql).
const COLUMNS = `"id", "clientId", "subject", "secretSealed", "confirmedAt", "lastUsedStep", "failedCount", "lockedUntil", "pendingAttemptId", "createdAt", "updatedAt"`;
const FIND: Statement = { name: "lb_totp_find", text: `SELECT ${COLUMNS} FROM totp_factor WHERE "clientId" = $1 AND "subject" = $2` };
// The factor and its recovery codes, only when this insert made the factor (the codes' hashes
// name its id).
const CREATE_PENDING: Statement = {
  name: "lb_totp_create_pending",
  text: `WITH f AS (
      INSERT INTO totp_factor ("id", "clientId", "subject", "secretSealed", "failedCount", "pendingAttemptId", "createdAt", "updatedAt")
      VALUES ($1, $2, $3, $4, 0, $5, $6::timestamp(3), $6::timestamp(3)) ON CONFLICT DO NOTHING RETURNING ${COLUMNS}
    ), codes AS (
      INSERT INTO totp_recovery_code ("id", "factorId", "codeHash", "createdAt")
      SELECT c.id, f."id", c.hash, $6::timestamp(3) FROM f, unnest($7::text[], $8::text[]) AS c(id, hash)
    )
    SELECT ${COLUMNS} FROM f`,
};
const CLAIM_TRY: Statement = {
  name: "lb_totp_claim_try",
  text: `UPDATE totp_factor SET "failedCount" = "failedCount" + 1, "updatedAt" = $4::timestamp(3)
    WHERE "clientId" = $1 AND "subject" = $2 AND "failedCount" < $3::int AND ("lockedUntil" IS NULL OR "lockedUntil" <= $4::timestamp(3))
    RETURNING ${COLUMNS}`,
};
const USE_STEP: Statement = {
  name: "lb_totp_use_step",
  text: `UPDATE totp_factor SET "lastUsedStep" = $2::bigint, "failedCount" = 0, "lockedUntil" = NULL, "confirmedAt" = $3::timestamp(3), "updatedAt" = $3::timestamp(3)
    WHERE "id" = $1 AND ("lastUsedStep" IS NULL OR "lastUsedStep" < $2::bigint) AND ("lockedUntil" IS NULL OR "lockedUntil" <= $3::timestamp(3))
    RETURNING 1 AS "used"`,
};
const REPLACE_RECOVERY_CODES: Statement = {
  name: "lb_totp_replace_recovery_codes",
  text: `WITH gone AS (DELETE FROM totp_recovery_code WHERE "factorId" = $1)
    INSERT INTO totp_recovery_code ("id", "factorId", "codeHash", "createdAt")
    SELECT id, $1, hash, $2::timestamp(3) FROM unnest($3::text[], $4::text[]) AS c(id, hash)`,
};

/** A recovery code as stored: only its hash. */
export interface RecoveryCodeRow {
  id: string;
  codeHash: string;
}

/** A factor as read: int8 comes back as a string (pg) or a bigint (PGlite). */
type FactorRow = Omit<TotpFactor, "lastUsedStep"> & { lastUsedStep: string | bigint | null };
const factorOf = (row: FactorRow): TotpFactor => ({ ...row, lastUsedStep: row.lastUsedStep === null ? null : BigInt(row.lastUsedStep) });

/** TOTP factors of bank customers. Every change that guards a secret is a conditional update. */
export function createTotpRepo(db: Pick<Db, "prisma" | "sql">) {
  const { prisma, sql } = db;
  return {
    async find(clientId: string, subject: string): Promise<TotpFactor | null> {
      const row = (await sql<FactorRow>(FIND, [clientId, subject]))[0];
      return row ? factorOf(row) : null;
    },

    /**
     * Creates the unconfirmed factor with its recovery codes, in one statement, or answers the one
     * a concurrent request created (read only then; the codes are then not stored).
     */
    async createPending(input: { id: string; clientId: string; subject: string; secretSealed: string; pendingAttemptId: string }, codes: RecoveryCodeRow[]): Promise<TotpFactor> {
      const values = [input.id, input.clientId, input.subject, input.secretSealed, input.pendingAttemptId, new Date(), codes.map((c) => c.id), codes.map((c) => c.codeHash)];
      const [created] = await sql<FactorRow>(CREATE_PENDING, values);
      return created ? factorOf(created) : (await this.find(input.clientId, input.subject))!;
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
      return (await sql(USE_STEP, [id, step, now])).length === 1;
    },

    /**
     * Claims one try before a code is checked: counts it as a failure, in one conditional update
     * that only succeeds while the customer's factor is unlocked and has tries left. Answers the
     * factor as claimed (its `failedCount` counts this try), or undefined when there is no factor
     * or no try left (locked, or the last tries are still being checked).
     */
    async claimTry(clientId: string, subject: string, maxFailures: number, now: Date): Promise<TotpFactor | undefined> {
      const [row] = await sql<FactorRow>(CLAIM_TRY, [clientId, subject, maxFailures, now]);
      return row ? factorOf(row) : undefined;
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
    async replaceRecoveryCodes(factorId: string, codes: RecoveryCodeRow[]): Promise<void> {
      await sql(REPLACE_RECOVERY_CODES, [factorId, new Date(), codes.map((c) => c.id), codes.map((c) => c.codeHash)]);
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
