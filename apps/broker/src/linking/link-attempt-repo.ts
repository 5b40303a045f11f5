import type { AttemptState, Db, LinkAttempt, Sql, Statement, TxSql } from "@link-broker/db";
import { AttemptStateError, canMove, LIVE_STATES } from "./link-attempt.ts";

// Every step of the linking flow reads its attempt: prepared statements (Db.sql).
const COLUMNS = `"id", "bindingHash", "clientId", "state"::text AS "state", "psid", "redirectUri", "scopes", "optionalScopes", "purposes", "durationDays", "codeChallenge",
  "oidcStateHash", "oidcNonceSealed", "oidcVerifierSealed", "bankSubject", "secondFactorMethod", "secondFactorAt", "failureReason", "linkId", "requestId",
  "expiresAt", "createdAt", "updatedAt"`;
const BY_ID: Statement = { name: "lb_attempt_by_id", text: `SELECT ${COLUMNS} FROM link_attempt WHERE "id" = $1` };
const BY_STATE_HASH: Statement = { name: "lb_attempt_by_state_hash", text: `SELECT ${COLUMNS} FROM link_attempt WHERE "oidcStateHash" = $1` };
const CREATE: Statement = {
  name: "lb_attempt_create",
  text: `INSERT INTO link_attempt ("id", "bindingHash", "clientId", "state", "psid", "redirectUri", "scopes", "optionalScopes", "purposes", "durationDays", "codeChallenge",
      "oidcStateHash", "oidcNonceSealed", "oidcVerifierSealed", "requestId", "expiresAt", "createdAt", "updatedAt")
    VALUES ($1, $2, $3, 'started', $4, $5, $6::text[], $7::text[], $8::text[], $9::int, $10, $11, $12, $13, $14, $15::timestamp(3), $16::timestamp(3), $16::timestamp(3))`,
};
// A transition: the state moves only from `from` while the attempt is live, and each change given
// replaces its column (null keeps it: no transition clears one).
const TRANSITION: Statement = {
  name: "lb_attempt_transition",
  text: `UPDATE link_attempt SET "state" = $3::text::"AttemptState", "updatedAt" = $4::timestamp(3),
      "oidcStateHash" = COALESCE($5, "oidcStateHash"), "oidcNonceSealed" = COALESCE($6, "oidcNonceSealed"), "oidcVerifierSealed" = COALESCE($7, "oidcVerifierSealed"),
      "bankSubject" = COALESCE($8, "bankSubject"), "secondFactorMethod" = COALESCE($9, "secondFactorMethod"), "secondFactorAt" = COALESCE($10::timestamp(3), "secondFactorAt"),
      "failureReason" = COALESCE($11, "failureReason"), "linkId" = COALESCE($12, "linkId")
    WHERE "id" = $1 AND "state" = $2::text::"AttemptState" AND "expiresAt" > $4::timestamp(3)
    RETURNING 1 AS "moved"`,
};

export type NewAttempt = Pick<
  LinkAttempt,
  "id" | "bindingHash" | "clientId" | "psid" | "redirectUri" | "scopes" | "optionalScopes" | "purposes" | "durationDays" | "codeChallenge" | "expiresAt" | "requestId" | "oidcStateHash" | "oidcNonceSealed" | "oidcVerifierSealed"
>;
export type AttemptChanges = Partial<Pick<LinkAttempt, "oidcStateHash" | "oidcNonceSealed" | "oidcVerifierSealed" | "bankSubject" | "secondFactorMethod" | "secondFactorAt" | "failureReason" | "linkId">>;

/** Link attempts. A transition is one update `where id, state = from, expiresAt > now` hitting one row. */
export function createLinkAttemptRepo(db: Pick<Db, "prisma" | "sql" | "transaction">) {
  const { prisma, sql } = db;

  async function explain(client: Sql, id: string, from: AttemptState, now: Date): Promise<never> {
    const [row] = await client<LinkAttempt>(BY_ID, [id]);
    if (!row) throw new AttemptStateError("not_found", from);
    if (row.state === from && row.expiresAt <= now) throw new AttemptStateError("expired", from, row.state);
    throw new AttemptStateError("wrong_state", from, row.state);
  }

  return {
    /** Runs `fn` in one transaction: the consent transaction (attempt, link, ledger entry, code). */
    inTransaction<T>(fn: (tx: TxSql) => Promise<T>): Promise<T> {
      return db.transaction(fn);
    },

    async create(a: NewAttempt): Promise<void> {
      await sql(CREATE, [
        a.id, a.bindingHash, a.clientId, a.psid, a.redirectUri, a.scopes, a.optionalScopes, a.purposes, a.durationDays, a.codeChallenge,
        a.oidcStateHash, a.oidcNonceSealed, a.oidcVerifierSealed, a.requestId, a.expiresAt, new Date(),
      ]);
    },

    async find(id: string): Promise<LinkAttempt | null> {
      return (await sql<LinkAttempt>(BY_ID, [id]))[0] ?? null;
    },

    async findByStateHash(oidcStateHash: string): Promise<LinkAttempt | null> {
      return (await sql<LinkAttempt>(BY_STATE_HASH, [oidcStateHash]))[0] ?? null;
    },

    /**
     * Moves from `from` to `to` if the attempt is still in `from` and live; else AttemptStateError.
     * With `tx`, inside the consent transaction; else as a prepared statement.
     */
    async transition(id: string, from: AttemptState, to: AttemptState, now: Date, changes: AttemptChanges = {}, tx?: TxSql): Promise<void> {
      if (!canMove(from, to)) throw new AttemptStateError("wrong_state", from);
      const values = [
        id, from, to, now, changes.oidcStateHash ?? null, changes.oidcNonceSealed ?? null, changes.oidcVerifierSealed ?? null,
        changes.bankSubject ?? null, changes.secondFactorMethod ?? null, changes.secondFactorAt ?? null, changes.failureReason ?? null, changes.linkId ?? null,
      ];
      // The same statement in the consent transaction, through it (Db.sql stays outside transactions).
      const moved = await (tx ?? sql)(TRANSITION, values);
      if (moved.length !== 1) await explain(tx ?? sql, id, from, now);
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
