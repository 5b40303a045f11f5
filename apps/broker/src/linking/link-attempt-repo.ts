import type { AttemptState, Db, LinkAttempt, Prisma, Statement, Tx } from "@link-broker/db";
import { AttemptStateError, canMove, LIVE_STATES } from "./link-attempt.ts";

// Every step of the linking flow reads its attempt: prepared statements (Db.sql).
const COLUMNS = `"id", "bindingHash", "clientId", "state"::text AS "state", "psid", "redirectUri", "scopes", "optionalScopes", "purposes", "durationDays", "codeChallenge",
  "oidcStateHash", "oidcNonceSealed", "oidcVerifierSealed", "bankSubject", "secondFactorMethod", "secondFactorAt", "failureReason", "linkId", "requestId",
  "expiresAt", "createdAt", "updatedAt"`;
const BY_ID: Statement = { name: "lb_attempt_by_id", text: `SELECT ${COLUMNS} FROM link_attempt WHERE "id" = $1` };
const BY_STATE_HASH: Statement = { name: "lb_attempt_by_state_hash", text: `SELECT ${COLUMNS} FROM link_attempt WHERE "oidcStateHash" = $1` };

export type NewAttempt = Pick<
  LinkAttempt,
  "id" | "bindingHash" | "clientId" | "psid" | "redirectUri" | "scopes" | "optionalScopes" | "purposes" | "durationDays" | "codeChallenge" | "expiresAt" | "requestId" | "oidcStateHash" | "oidcNonceSealed" | "oidcVerifierSealed"
>;
export type AttemptChanges = Partial<Pick<LinkAttempt, "oidcStateHash" | "oidcNonceSealed" | "oidcVerifierSealed" | "bankSubject" | "secondFactorMethod" | "secondFactorAt" | "failureReason" | "linkId">>;

/** Link attempts. A transition is `updateMany where { id, state: from, expiresAt > now }` hitting one row. */
export function createLinkAttemptRepo(db: Pick<Db, "prisma" | "sql">) {
  const { prisma, sql } = db;

  async function explain(client: Tx | Db["prisma"], id: string, from: AttemptState, now: Date): Promise<never> {
    const row = await client.linkAttempt.findUnique({ where: { id }, select: { state: true, expiresAt: true } });
    if (!row) throw new AttemptStateError("not_found", from);
    if (row.state === from && row.expiresAt <= now) throw new AttemptStateError("expired", from, row.state);
    throw new AttemptStateError("wrong_state", from, row.state);
  }

  return {
    /** Runs `fn` in one transaction: the consent transaction (attempt, link, ledger entry, code). */
    inTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
      return prisma.$transaction(fn);
    },

    async create(attempt: NewAttempt): Promise<LinkAttempt> {
      return prisma.linkAttempt.create({ data: { ...attempt, state: "started" } });
    },

    async find(id: string): Promise<LinkAttempt | null> {
      return (await sql<LinkAttempt>(BY_ID, [id]))[0] ?? null;
    },

    async findByStateHash(oidcStateHash: string): Promise<LinkAttempt | null> {
      return (await sql<LinkAttempt>(BY_STATE_HASH, [oidcStateHash]))[0] ?? null;
    },

    /** Moves from `from` to `to` if the attempt is still in `from` and live; else AttemptStateError. */
    async transition(id: string, from: AttemptState, to: AttemptState, now: Date, changes: AttemptChanges = {}, tx?: Tx): Promise<void> {
      if (!canMove(from, to)) throw new AttemptStateError("wrong_state", from);
      const client = tx ?? prisma;
      const where: Prisma.LinkAttemptWhereInput = { id, state: from, expiresAt: { gt: now } };
      const { count } = await client.linkAttempt.updateMany({ where, data: { ...changes, state: to } });
      if (count !== 1) await explain(client, id, from, now);
    },

    /** Ends a live attempt as failed; a no-op when it already ended. */
    async fail(id: string, reason: string): Promise<void> {
      await prisma.linkAttempt.updateMany({
        where: { id, state: { in: [...LIVE_STATES] } },
        data: { state: "failed", failureReason: reason.slice(0, 200) },
      });
    },

    /** Marks attempts past their expiry as expired (housekeeping). */
    async expireDue(now: Date): Promise<number> {
      const { count } = await prisma.linkAttempt.updateMany({
        where: { state: { in: [...LIVE_STATES] }, expiresAt: { lte: now } },
        data: { state: "expired" },
      });
      return count;
    },

    /**
     * Deletes attempts that expired before `before`. Every attempt ends within its 10 minutes, so
     * older rows are finished history (the ledger keeps the evidence of the ones that linked);
     * without this, each visit to /link would leave a row for ever.
     */
    async purgeExpired(before: Date): Promise<number> {
      const { count } = await prisma.linkAttempt.deleteMany({ where: { expiresAt: { lt: before } } });
      return count;
    },
  };
}

export type LinkAttemptRepo = ReturnType<typeof createLinkAttemptRepo>;
